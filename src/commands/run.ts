/** `agentctl run <task>` or `agentctl run --all|--tag T|--type T [--concurrency N]`, with live progress. */
import chalk from 'chalk';
import { render } from 'ink';
import { createElement } from 'react';
import { EXIT, InputError, StateError } from '../core/errors.js';
import type { StoredEvent } from '../evidence/events.js';
import { awaitsDecision } from '../evidence/projections/runs.js';
import { runBatch, type BatchItem } from '../orchestrator/batch.js';
import { runTask, type RunTaskResult } from '../orchestrator/run.js';
import { BatchProgress, type BatchRow } from '../ui/BatchProgress.js';
import { describeEvent, shortRunId } from '../ui/describe.js';
import { outputMode, printJson, println } from '../ui/output.js';
import { RunProgress } from '../ui/RunProgress.js';
import { terminalSafe } from '../ui/terminal.js';
import { interruptible } from '../cli/interrupt.js';
import { withContext } from './shared.js';
import { storeTargetAt } from '../orchestrator/context.js';

interface RunOpts {
  claim?: boolean;
  json?: boolean;
  all?: boolean;
  tag?: string;
  type?: string;
  concurrency?: number;
  queue?: boolean;
}

/** Exit code for one finished run (see EXIT). */
function exitOf(result: RunTaskResult): number {
  const r = result.run;
  if (r.state === 'interrupted') return EXIT.INTERRUPTED;
  if (r.state === 'failed') return EXIT.AGENT;
  if (r.gate && !r.gate.passed) return EXIT.GATE_FAILED;
  return EXIT.OK;
}

const line = (e: StoredEvent): void => {
  const text = describeEvent(e);
  if (text && e.type !== 'agent.message') process.stderr.write(`${chalk.dim(`[${terminalSafe(e.task ?? '')} ${shortRunId(e.runId)}]`)} ${text}\n`);
};

export default async function run(taskId: string | undefined, opts: RunOpts): Promise<number> {
  const batch = opts.all || opts.tag !== undefined || opts.type !== undefined;
  if (batch && taskId) throw new InputError('give a task id or a selection (--all, --tag, --type), not both');
  if (!batch && !taskId) throw new InputError('which task? agentctl run <task>, or --all / --tag <t> / --type <t>');
  if (batch && opts.claim) throw new InputError('--claim drives one agent by hand; it cannot be combined with a selection');
  if (opts.concurrency !== undefined && (!Number.isInteger(opts.concurrency) || opts.concurrency < 1 || opts.concurrency > 32)) {
    throw new InputError('--concurrency must be a whole number from 1 to 32', { field: '--concurrency' });
  }
  if (opts.queue) {
    if (opts.claim) throw new InputError('--claim drives the agent here, by hand; it cannot be queued', { field: '--queue' });
    return enqueue(taskId, opts);
  }
  return batch ? runMany(opts) : runOne(taskId!, opts);
}

/** `--queue`: queue the run(s) for the team's workers; prints the job ids. */
async function enqueue(taskId: string | undefined, opts: RunOpts): Promise<number> {
  // Refused before anything opens (a local log is not even created) when the store is not PostgreSQL.
  const target = await storeTargetAt(process.cwd());
  if (target.kind !== 'postgres') {
    throw new StateError('run --queue needs the team\'s PostgreSQL store; this project uses the local log, and nothing was queued', { hint: 'Set store: postgres://… in .agentrc.yaml or AGENTCTL_STORE' });
  }
  const { openBoss } = await import('../orchestrator/queue/boss.js');
  const { enqueueRuns } = await import('../orchestrator/queue/enqueue.js');
  const boss = await openBoss(target.url);
  try {
    return await withContext(async (ctx) => {
      const queued = await enqueueRuns(ctx, boss, { taskId, all: opts.all, tag: opts.tag, type: opts.type });
      if (outputMode(opts.json) === 'json') printJson({ queued });
      else {
        for (const q of queued) println(`queued ${terminalSafe(q.task)}  job ${q.jobId}`);
        println(queued.length ? `${queued.length} run(s) queued. Workers: agentctl worker   Watch: agentctl queue` : 'No task matches the selection.');
      }
      return EXIT.OK;
    });
  } finally {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
  }
}

async function runOne(taskId: string, opts: RunOpts): Promise<number> {
  const mode = outputMode(opts.json);
  const { controller, dispose } = opts.claim ? { controller: new AbortController(), dispose: () => undefined } : interruptible();
  const events: StoredEvent[] = [];
  let view: ReturnType<typeof render> | undefined;
  const onEvent = (e: StoredEvent): void => {
    events.push(e);
    if (mode === 'interactive' && !opts.claim) {
      const el = createElement(RunProgress, { task: taskId, agent: events[0]?.agent ?? '', events: [...events] });
      if (view) view.rerender(el);
      else view = render(el, { stdout: process.stdout, patchConsole: false, exitOnCtrlC: false });
    } else line(e);
  };
  try {
    return await withContext(async (ctx) => {
      const result = await runTask(ctx, taskId, { claim: opts.claim === true, interactiveTerminal: process.stdin.isTTY === true && process.stdout.isTTY === true, signal: controller.signal, onEvent });
      view?.unmount();
      view = undefined;
      const r = result.run;
      if (mode === 'json') printJson({ run: r, decision: result.decision ?? null });
      else {
        println('', `${chalk.bold('run')} ${terminalSafe(r.runId)}  ${terminalSafe(r.task)}  ${r.state}`);
        if (r.state === 'merged') println(`Merged into ${terminalSafe(r.baseBranch)} (${terminalSafe(r.mergeSha?.slice(0, 10))}).`);
        else if (awaitsDecision(r)) {
          if (result.decision) println(chalk.dim(`why: ${terminalSafe(result.decision.reasons.join('; '))}`));
          if (r.fileCount === 0) println(`Nothing changed. Next: agentctl review discard ${r.runId}   (or look first: agentctl review show ${r.runId})`);
          else println(`Next: agentctl review show ${r.runId}`, `      agentctl review merge ${r.runId}   |   agentctl review discard ${r.runId}`);
        }
      }
      return exitOf(result);
    });
  } finally {
    view?.unmount();
    dispose();
  }
}

/** The batch selection as typed (`--tag docs`), for an error message (cli/main.ts makes it safe to print). */
function selectionText(opts: RunOpts): string {
  return [opts.all ? '--all' : '', opts.tag ? `--tag ${opts.tag}` : '', opts.type ? `--type ${opts.type}` : ''].filter(Boolean).join(' ');
}

async function runMany(opts: RunOpts): Promise<number> {
  const mode = outputMode(opts.json);
  const { controller, dispose } = interruptible();
  const rows = new Map<string, BatchRow>();
  let view: ReturnType<typeof render> | undefined;
  const redraw = (): void => {
    if (mode !== 'interactive') return;
    const el = createElement(BatchProgress, { rows: [...rows.values()] });
    if (view) view.rerender(el);
    else view = render(el, { stdout: process.stdout, patchConsole: false, exitOnCtrlC: false });
  };
  const row = (task: string): BatchRow => {
    let r = rows.get(task);
    if (!r) rows.set(task, (r = { task, events: [], skipped: undefined }));
    return r;
  };
  try {
    return await withContext(async (ctx) => {
      const items: BatchItem[] = await runBatch(ctx, { all: opts.all, tag: opts.tag, type: opts.type }, {
        concurrency: opts.concurrency ?? 2,
        signal: controller.signal,
        onEvent: (task, e) => {
          const r = row(task);
          r.events = [...r.events, e];
          if (mode === 'interactive') redraw();
          else if (mode === 'plain') line(e);
        },
        onSkip: (task, why) => {
          row(task).skipped = why;
          if (mode === 'interactive') redraw();
          else if (mode === 'plain') process.stderr.write(`${chalk.dim(`[${terminalSafe(task)}]`)} skipped: ${terminalSafe(why)}\n`);
        },
      });
      view?.unmount();
      view = undefined;
      // A selection that names nothing is a mistake (a mistyped tag in a cron job), not a quiet success.
      if (items.length === 0) throw new InputError(`no task matches the selection (${selectionText(opts)})`, { hint: 'See the tasks with: agentctl tasks' });
      if (mode === 'json') printJson({ runs: items.map((i) => ({ task: i.task, run: i.result?.run ?? null, decision: i.result?.decision ?? null, skipped: i.skipped ?? null })) });
      else {
        const count = (s: string) => items.filter((i) => i.result?.run.state === s).length;
        println('', `${items.length} task(s): ${count('merged')} merged, ${count('awaiting_review')} awaiting review, ${count('failed')} failed, ${count('interrupted')} interrupted, ${items.filter((i) => i.skipped).length} skipped`);
      }
      const codes = items.map((i) => (i.result ? exitOf(i.result) : i.exitCode));
      if (codes.includes(EXIT.INTERRUPTED)) return EXIT.INTERRUPTED;
      if (codes.includes(EXIT.AGENT)) return EXIT.AGENT;
      if (codes.includes(EXIT.GATE_FAILED)) return EXIT.GATE_FAILED;
      // Nothing ran (every task refused: a breaker, the kill switch, a hold task): that refusal's code, as for one task.
      if (items.every((i) => i.skipped)) return codes.find((c) => c !== EXIT.OK) ?? EXIT.STATE;
      return EXIT.OK;
    });
  } finally {
    view?.unmount();
    dispose();
  }
}
