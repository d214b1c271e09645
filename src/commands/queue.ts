/** `agentctl queue [--json]`: what waits in the run queue and who runs what (orchestrator/queue/status.ts). */
import { EXIT } from '../core/errors.js';
import { queueStatus } from '../orchestrator/queue/status.js';
import { outputMode, printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

/** "3m" / "2h" / "5d" since an ISO time. */
function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
}

export default async function queue(opts: { json?: boolean }): Promise<number> {
  return withContext((ctx) => {
    const status = queueStatus(ctx);
    if (outputMode(opts.json) === 'json') {
      printJson(status);
      return EXIT.OK;
    }
    println(`Waiting (${status.waiting.length}):`);
    for (const w of status.waiting) println(`  ${terminalSafe(w.task)}  queued by ${terminalSafe(w.queuedBy)} on ${terminalSafe(w.queuedFrom)}, ${age(w.queuedAt)} ago${w.attempt > 1 ? `  (attempt ${w.attempt})` : ''}  job ${w.jobId}`);
    println(`Running (${status.running.length}):`);
    for (const r of status.running) println(`  ${terminalSafe(r.task)}  on ${terminalSafe(r.host ?? '?')}${r.pid ? ` (pid ${r.pid})` : ''}  run ${terminalSafe(r.runId ?? '(starting)')}  since ${age(r.since)} ago  job ${r.jobId}`);
    return EXIT.OK;
  });
}
