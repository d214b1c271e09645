/** `agentctl audit verify`: integrity and authenticity of the event log (no repository needed). */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { agentctlHome, homePaths } from '../core/paths.js';
import type { VerifyReport } from '../evidence/integrity.js';
import { storeName, verifyStore } from '../evidence/openStore.js';
import { storeTargetAt } from '../orchestrator/context.js';
import { printJson, println } from '../ui/output.js';
import { withStderrProgress } from '../ui/progress.js';
import { terminalSafe } from '../ui/terminal.js';

function okLine(r: VerifyReport): string {
  const at = `checkpoint at #${r.checkpoint?.seq ?? '-'} matches`;
  if (!r.authenticated) {
    return `${r.events} events, hash chain intact (legacy sha256, NOT authenticated: this log predates log keys; it is keyed at its next use), schema untouched, ${at}.`;
  }
  const legacy = r.legacyEvents ? ` (#1–#${r.legacyEvents} legacy sha256, covered by the first keyed event)` : '';
  return `${r.events} events, chain authenticated with HMAC-SHA256 from #${r.keyedFrom}${legacy}, schema untouched, ${at} (authenticated).`;
}

export default async function auditVerify(opts: { json?: boolean }): Promise<number> {
  const paths = homePaths(agentctlHome());
  const target = await storeTargetAt(process.cwd());
  const database = storeName(target);
  // Read-only: verification never creates a key or moves a checkpoint.
  const report = withStderrProgress('verifying events', (progress) => verifyStore(target, paths, process.env, progress));
  if (!report) {
    if (opts.json) printJson({ ok: true, events: 0, problems: [] });
    else println(`No event log yet at ${terminalSafe(database)}.`);
    return EXIT.OK;
  }
  if (opts.json) printJson({ database, ...report });
  else if (report.ok) println(`${chalk.green('ok')}: ${okLine(report)}`);
  else {
    println(`${chalk.red('FAILED')}: ${terminalSafe(database)}${report.firstBadSeq !== undefined ? ` — first bad sequence: ${report.firstBadSeq}` : ''}`);
    for (const p of report.problems) println(`  - ${terminalSafe(p)}`);
  }
  return report.ok ? EXIT.OK : EXIT.INTEGRITY;
}
