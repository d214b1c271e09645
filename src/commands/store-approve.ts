/** `agentctl store approve [url]`: let this machine use a shared store that a repository's `.agentrc.yaml` names. */
import { agentctlHome, homePaths } from '../core/paths.js';
import { assertOutsideRun } from '../core/humanOnly.js';
import { EXIT, InputError } from '../core/errors.js';
import { loadProject } from '../definition/load.js';
import { createGit } from '../exec/git.js';
import { isPostgresUrl } from '../evidence/openStore.js';
import { redactUrl } from '../core/urlSecrets.js';
import { approveStore } from '../evidence/storeApproval.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

export default async function storeApprove(url: string | undefined, opts: { json?: boolean }): Promise<number> {
  assertOutsideRun('approving a store');
  const chosen = url ?? (await loadProject(createGit(), process.cwd())).config.store;
  if (!chosen || !isPostgresUrl(chosen)) {
    throw new InputError(url ? `the store must be a postgres:// URL` : `this repository's .agentrc.yaml names no postgres:// store`, { field: 'store', hint: 'Give the URL: agentctl store approve postgres://writer@host/db' });
  }
  const result = await approveStore(homePaths(agentctlHome(process.env)), chosen);
  const shown = redactUrl(result.url);
  if (opts.json) printJson({ store: shown, added: result.added });
  else println(result.added ? `Approved ${terminalSafe(shown)}: repositories whose .agentrc.yaml names it now record into it on this machine.` : `${terminalSafe(shown)} was already approved.`);
  return EXIT.OK;
}
