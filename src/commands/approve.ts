/** `agentctl approve [code]`: let the repository's settings that reach outside the OS sandbox apply on this machine. */
import { createInterface } from 'node:readline/promises';
import { assertOutsideRun } from '../core/humanOnly.js';
import { EXIT, InputError } from '../core/errors.js';
import type { HostSetting } from '../definition/hostSettings.js';
import { currentHuman } from '../orchestrator/context.js';
import { approvalCodeOf, approveHint, approveSettings, hostSettingsOf, parseApprovalCode, unapprovedSettings, unapprovedText } from '../orchestrator/settingsApproval.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

/** The settings, one line each, made safe for a terminal (they come from the repository). */
function settingLines(settings: readonly HostSetting[]): string[] {
  return settings.map((s) => `  ${terminalSafe(s.setting)}: ${terminalSafe(s.value)} (${terminalSafe(s.reach)})`);
}

/**
 * Approve with the code the person typed, or, on a terminal without one, after showing the settings and
 * asking. Without a code and without a terminal nothing is approved (exit 2): what a script approves
 * must be what someone read, not whatever a pull has just brought.
 */
export default async function approve(code: string | undefined, opts: { json?: boolean }): Promise<number> {
  assertOutsideRun('approving repository settings');
  const typed = code === undefined ? undefined : parseApprovalCode(code);
  return withContext(async (ctx) => {
    let chosen = typed;
    if (chosen === undefined) {
      const settings = hostSettingsOf(ctx.project, ctx.paths);
      if (!settings.length || !unapprovedSettings(ctx).length) {
        if (opts.json) printJson({ approved: [], alreadyApproved: settings });
        else println(settings.length ? 'Already approved on this machine, as they are now.' : 'Nothing to approve: this repository sets nothing that reaches outside the OS sandbox.');
        return EXIT.OK;
      }
      if (opts.json || process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
        throw new InputError(`nothing approved without a terminal to ask on or an approval code: ${unapprovedText(settings)}`, { hint: approveHint(ctx.paths, ctx.project.key, settings) });
      }
      println("This repository's settings reach outside the OS sandbox:", ...settingLines(settings), `Approval code: ${approvalCodeOf(ctx.paths, ctx.project.key, settings)}`);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question('Approve them on this machine? [y/N] ').finally(() => rl.close());
      if (!/^y(es)?$/i.test(answer.trim())) {
        println('Nothing approved.');
        return EXIT.OK;
      }
      chosen = approvalCodeOf(ctx.paths, ctx.project.key, settings);
    }
    const approved = await approveSettings(ctx, await currentHuman(ctx), chosen);
    if (opts.json) printJson({ approved });
    else if (!approved.length) println('Nothing to approve: this repository sets nothing that reaches outside the OS sandbox.');
    else println('Approved on this machine, as they are now (a change to any of them needs a new approval):', ...settingLines(approved));
    return EXIT.OK;
  });
}
