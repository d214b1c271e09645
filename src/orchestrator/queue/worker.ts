/**
 * `agentctl worker`: claim this project's queued runs and run each one here, through the normal
 * pipeline (run.ts) in this machine's OS sandbox, starting from the shared remote's tip of the base
 * branch; push the run branch to the remote; settle the queue job.
 *
 * - Claiming is pg-boss's (one claim per attempt: `FOR UPDATE SKIP LOCKED`); while a run is in progress
 *   pg-boss renews the job's heartbeat every quarter lease. A worker killed with -9 stops renewing it: its
 *   run is recorded `interrupted` by the next recovery pass of any worker (this loop runs one every quarter
 *   lease) or of any agentctl command (recovery.ts, queue/lease.ts), and pg-boss's supervisor fails the
 *   job, which is offered again while retries remain (`queue.onLost: retry`) or not (`review`).
 * - A run whose lease is lost while this worker still runs it (the job's signal) is stopped and recorded
 *   interrupted here.
 * - Aborting `signal` (SIGTERM, SIGINT) stops claiming, interrupts the runs in progress (recorded) and
 *   fails their jobs, so they are offered again or left for review as configured.
 * - `drain`: return once nothing waits or runs in the project's queue.
 */
import type { Job, PgBoss } from 'pg-boss';
import { AgentctlError, StateError } from '../../core/errors.js';
import type { StoredEvent } from '../../evidence/events.js';
import { runBranch } from '../../exec/worktree.js';
import type { Context } from '../context.js';
import { recoverOrphanedRuns } from '../recovery.js';
import { runTask } from '../run.js';
import { ensureQueue } from './boss.js';
import { openJobsQuery, pgSessionOf } from './lease.js';
import { queueName, type QueuedRun } from './names.js';
import { fetchBase, pushBase, pushBranch, requireDefinitionAt } from './remote.js';
import { findRunnableTask } from '../tasks.js';
import { branchName } from '../../definition/config.js';

/** Options for {@link runWorker}. */
export interface WorkerOptions {
  /** Runs at once in this worker (1–32). */
  concurrency: number;
  /** Return when nothing waits or runs in the queue. */
  drain: boolean;
  /** Abort: stop claiming, interrupt the runs in progress, return. */
  signal: AbortSignal;
  /** Every event of every run. */
  onEvent?: (task: string, event: StoredEvent) => void;
  /** One line about a job: claimed, pushed, settled, refused. */
  onNote?: (task: string, text: string) => void;
}

/** What became of one claimed job. */
export interface WorkedJob {
  jobId: string;
  task: string;
  /** The run started for it (undefined when it was refused before planning). */
  runId: string | undefined;
  state: string | undefined;
  /** The run branch pushed to the remote, if any. */
  pushed: string | undefined;
  /** Why the job failed (it is offered again while retries remain), if it did. */
  error: string | undefined;
  /** Why an auto merge could not be pushed to the remote (it stays in this clone), if so. */
  pushError?: string;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Work the project's queue until `signal` aborts (or, with `drain`, until it is empty).
 * @param boss an open client with the supervisor on (boss.ts `openBoss(url, {superviseEverySeconds})`)
 * @returns the jobs this worker claimed, in the order they finished
 * @throws StateError when the store is not PostgreSQL
 */
export async function runWorker(ctx: Context, boss: PgBoss, options: WorkerOptions): Promise<WorkedJob[]> {
  const session = pgSessionOf(ctx.store);
  if (!session) throw new StateError('agentctl worker needs the team\'s PostgreSQL store', { hint: 'Set store: postgres://… in .agentrc.yaml or AGENTCTL_STORE' });
  const cfg = ctx.project.config;
  const name = queueName(cfg.project);
  const { remote, leaseSeconds } = cfg.queue;
  await ensureQueue(boss, name);
  const done: WorkedJob[] = [];
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  let inFlight = 0;

  // Other workers' runs whose lease is lost (a killed worker) are closed here, every quarter lease: the
  // heartbeat limit is three quarters of the lease (lease.ts heartbeatSecondsOf), so the run is closed within one lease.
  const recovery = setInterval(() => {
    try {
      recoverOrphanedRuns(ctx);
    } catch {
      // The next pass, or the next command, tries again.
    }
  }, Math.max(1000, (leaseSeconds * 1000) / 4));

  const handle = async (job: Job<QueuedRun>): Promise<{ runId: string; state: string }> => {
    inFlight++;
    const data = job.data;
    const item: WorkedJob = { jobId: job.id, task: String(data?.task ?? '?'), runId: undefined, state: undefined, pushed: undefined, error: undefined };
    const note = (text: string) => options.onNote?.(item.task, text);
    const run = new AbortController();
    let lost: string | undefined;
    // A lost lease, else the stop's reason as the command's signal handler gave it (`interrupted by SIGHUP`).
    const why = (): string => lost ?? `the worker was stopped${typeof options.signal.reason === 'string' ? ` (${options.signal.reason})` : ''}`;
    const onLost = (): void => {
      lost = `the worker lost its lease on queue job ${job.id}`;
      run.abort();
    };
    const onStop = (): void => run.abort();
    job.signal.addEventListener('abort', onLost, { once: true });
    stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      if (stop.signal.aborted) throw new StateError('the worker is stopping; the job is left for another worker');
      if (data?.project !== cfg.project) throw new StateError(`job ${job.id} is for project ${JSON.stringify(String(data?.project))}, not ${cfg.project}`);
      // Queued by another machine: its base branch is checked as .agentrc.yaml's would be.
      if (!branchName.safeParse(data.baseBranch).success) throw new StateError(`job ${job.id}'s base branch ${JSON.stringify(String(data.baseBranch)).slice(0, 200)} is not a branch name git accepts`);
      note(`claimed queue job ${job.id} (attempt ${job.retryCount + 1}, queued by ${String(data.by)} on ${String(data.host)})`);
      const baseSha = await fetchBase(ctx, remote, data.baseBranch);
      // This clone's base branch before the run: an auto merge lands on it and is pushed, so it must hold
      // nothing the remote does not (else the push would publish this clone's own unpushed commits).
      const localBase = await ctx.git.resolve(ctx.project.root, `refs/heads/${data.baseBranch}`);
      await requireDefinitionAt(ctx, findRunnableTask(ctx, data.task), baseSha);
      const result = await runTask(ctx, data.task, {
        interactiveTerminal: false,
        signal: run.signal,
        interruptReason: why,
        base: { branch: data.baseBranch, sha: baseSha },
        queueJob: { queue: name, id: job.id, attempt: job.retryCount, leaseSeconds },
        onPlanned: (runId) => (item.runId = runId),
        onEvent: (e) => options.onEvent?.(item.task, e),
      });
      item.state = result.run.state;
      const branch = runBranch(data.task, result.run.runId);
      if (await pushBranch(ctx, remote, branch)) {
        item.pushed = branch;
        note(`pushed ${branch} to ${remote}`);
      }
      if (result.run.state === 'merged') {
        // An auto merge landed on this clone's base branch: publish it (a fast-forward, never forced).
        try {
          if (localBase && !(await ctx.git.isAncestor(ctx.project.root, localBase, baseSha))) {
            throw new StateError(`this clone's ${data.baseBranch} has commits that are not on ${remote} (pushing would publish them)`);
          }
          await pushBase(ctx, remote, data.baseBranch);
          note(`pushed the auto merge of ${data.baseBranch} to ${remote}`);
        } catch (error) {
          item.pushError = `the auto merge stays in this clone: pushing ${data.baseBranch} to ${remote} was refused (${(error as Error).message.split('\n').at(-1)})`;
          note(item.pushError);
        }
      }
      // An interrupted run fails its job: offered again while retries remain (onLost: retry), else left for review.
      if (result.run.state === 'interrupted') throw new StateError(`run ${result.run.runId} was interrupted: ${why()}`);
      return { runId: result.run.runId, state: result.run.state };
    } catch (error) {
      item.error = (error as Error).message;
      note(`job ${job.id} failed: ${item.error}`);
      if (!(error instanceof AgentctlError)) item.error = `${item.error} (a bug?)`;
      throw error;
    } finally {
      job.signal.removeEventListener('abort', onLost);
      stop.signal.removeEventListener('abort', onStop);
      done.push(item);
      inFlight--;
    }
  };

  await boss.work<QueuedRun>(name, { localConcurrency: options.concurrency, batchSize: 1, pollingIntervalSeconds: 1, heartbeatRefreshSeconds: Math.max(1, leaseSeconds / 4) }, async (jobs) => {
    const [job] = jobs;
    return job ? handle(job) : undefined;
  });
  try {
    while (!stop.signal.aborted) {
      await sleep(1000, stop.signal);
      if (options.drain && !stop.signal.aborted && inFlight === 0) {
        const { sql, params } = openJobsQuery(name);
        const open = (await boss.getDb().executeSql(sql, params)).rows;
        if (open.length === 0 && inFlight === 0) break;
      }
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    clearInterval(recovery);
    // Stop claiming; the runs in progress were aborted with `stop` (or finish now, when draining), and
    // their handlers settle their jobs before this returns.
    stop.abort();
    await boss.offWork(name, { wait: true });
  }
  return done;
}
