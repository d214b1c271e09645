/** `agentctl worker [--concurrency N] [--drain]`: run this project's queued runs here (orchestrator/queue/worker.ts). */
import chalk from 'chalk';
import { EXIT, InputError, StateError } from '../core/errors.js';
import type { StoredEvent } from '../evidence/events.js';
import { storeTargetAt } from '../orchestrator/context.js';
import { describeEvent, shortRunId } from '../ui/describe.js';
import { outputMode, printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { interruptible } from '../cli/interrupt.js';
import { withContext } from './shared.js';

export default async function worker(opts: { concurrency?: number; drain?: boolean; json?: boolean }): Promise<number> {
  const concurrency = opts.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw new InputError('--concurrency must be a whole number from 1 to 32', { field: '--concurrency' });
  const target = await storeTargetAt(process.cwd());
  if (target.kind !== 'postgres') throw new StateError('agentctl worker needs the team\'s PostgreSQL store; this project uses the local log', { hint: 'Set store: postgres://… in .agentrc.yaml or AGENTCTL_STORE' });
  const { openBoss } = await import('../orchestrator/queue/boss.js');
  const { runWorker } = await import('../orchestrator/queue/worker.js');
  // Ctrl-C, SIGTERM and SIGHUP (the terminal closed): stop claiming, interrupt the runs in progress
  // (recorded), exit; a second Ctrl-C forces (cli/interrupt.ts, as for `agentctl run`).
  const { controller, dispose } = interruptible('the worker (the runs in progress are interrupted and recorded)');
  const tag = (task: string, runId?: string) => chalk.dim(`[${terminalSafe(task)}${runId ? ` ${shortRunId(runId)}` : ''}]`);
  try {
    return await withContext(async (ctx) => {
      const boss = await openBoss(target.url, { superviseEverySeconds: Math.max(1, Math.floor(ctx.project.config.queue.leaseSeconds / 4)), poolSize: concurrency + 3 });
      try {
        process.stderr.write(`agentctl worker: project ${terminalSafe(ctx.project.config.project)}, ${concurrency} at a time${opts.drain ? ', until the queue is empty' : ''}\n`);
        const jobs = await runWorker(ctx, boss, {
          concurrency,
          drain: opts.drain === true,
          signal: controller.signal,
          onEvent: (task: string, e: StoredEvent) => {
            const text = describeEvent(e);
            if (text && e.type !== 'agent.message') process.stderr.write(`${tag(task, e.runId)} ${text}\n`);
          },
          onNote: (task, text) => process.stderr.write(`${tag(task)} ${terminalSafe(text)}\n`),
        });
        if (outputMode(opts.json) === 'json') printJson({ jobs });
        else println(`${jobs.length} job(s) worked: ${jobs.filter((j) => !j.error).length} done, ${jobs.filter((j) => j.error).length} failed.`);
        return controller.signal.aborted ? EXIT.INTERRUPTED : EXIT.OK;
      } finally {
        await boss.stop({ graceful: true, close: true, timeout: 10_000 }).catch(() => undefined);
      }
    });
  } finally {
    dispose();
  }
}
