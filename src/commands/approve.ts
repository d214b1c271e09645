/** `agentctl approve`: let the repository's settings that reach outside the OS sandbox apply on this machine. */
import { assertOutsideRun } from '../core/humanOnly.js';
import { EXIT } from '../core/errors.js';
import { currentHuman } from '../orchestrator/context.js';
import { approveSettings } from '../orchestrator/settingsApproval.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function approve(opts: { json?: boolean }): Promise<number> {
  assertOutsideRun('approving repository settings');
  return withContext(async (ctx) => {
    const approved = await approveSettings(ctx, await currentHuman(ctx));
    if (opts.json) printJson({ approved });
    else if (!approved.length) println('Nothing to approve: this repository sets nothing that reaches outside the OS sandbox.');
    else {
      println('Approved on this machine, as they are now (a change to any of them needs a new approval):');
      for (const s of approved) println(`  ${terminalSafe(s.setting)}: ${terminalSafe(s.value)} (${terminalSafe(s.reach)})`);
    }
    return EXIT.OK;
  });
}
