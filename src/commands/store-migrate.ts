/** `agentctl store migrate --to postgres://…`: copy this machine's local log into a team's shared store. */
import { EXIT, InputError } from '../core/errors.js';
import { assertOutsideRun } from '../core/humanOnly.js';
import { agentctlHome, homePaths } from '../core/paths.js';
import { isPostgresUrl } from '../evidence/openStore.js';
import { migrateLog } from '../evidence/pg/migrate.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

export default async function storeMigrate(opts: { to: string; batchSize?: string; json?: boolean }): Promise<number> {
  assertOutsideRun('migrating a store');
  if (!isPostgresUrl(opts.to)) throw new InputError('--to must be a postgres:// URL (the shared store, as its writer role)', { field: '--to' });
  const batchSize = opts.batchSize === undefined ? undefined : Number(opts.batchSize);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new InputError(`--batch-size must be a positive whole number, not "${opts.batchSize}"`, { field: '--batch-size' });
  const paths = homePaths(agentctlHome());
  // Progress on stderr, so --json output stays one document.
  const result = migrateLog(paths, process.env, opts.to, {
    ...(batchSize !== undefined ? { batchSize } : {}),
    onProgress: (done, total) => process.stderr.write(`agentctl: migrate: ${done}/${total} events\n`),
  });
  if (opts.json) printJson(result);
  else {
    println(
      `Copied ${result.copied} event(s) of ${terminalSafe(result.source)} into ${terminalSafe(result.target)} (${result.alreadyPresent} already there; ${result.killSwitchSkipped} kill-switch event(s) left out, the team's switch is its own; ${result.events} verified; projects: ${result.projects.map((p) => terminalSafe(p)).join(', ') || 'none'}).`,
      `The shared log now ends at #${result.headSeq}. Check it with: AGENTCTL_STORE=<url> agentctl audit verify`,
    );
  }
  return EXIT.OK;
}
