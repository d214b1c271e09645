/**
 * `agentctl run <task> --queue` (or a selection): queue runs for the team's workers instead of running
 * them here. Each queued run is a pg-boss job in the project's queue and a `queue.enqueued` event (who
 * queued it, from which machine) in the shared log.
 */
import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import { assertOutsideRun } from '../../core/humanOnly.js';
import { StateError } from '../../core/errors.js';
import type { Task } from '../../definition/task.js';
import type { EventInput } from '../../evidence/events.js';
import { selectTasks } from '../batch.js';
import { currentHost, currentHuman, type Context } from '../context.js';
import { allTasks, findRunnableTask } from '../tasks.js';
import { ensureQueue } from './boss.js';
import { heartbeatSecondsOf, pgSessionOf } from './lease.js';
import { queueName, type QueuedRun } from './names.js';

/** The pg-boss job options of a queued run, from the project's `queue:` config. */
export function jobOptions(cfg: Context['project']['config']['queue']): { retryLimit: number; heartbeatSeconds: number; expireInSeconds: number; retryDelay: number } {
  return {
    // A run whose worker lost its lease is offered again (retry) or left for review (no retry).
    retryLimit: cfg.onLost === 'retry' ? cfg.retries : 0,
    heartbeatSeconds: heartbeatSecondsOf(cfg.leaseSeconds),
    // The run's own timeout stops a run that hangs; the lease is the liveness check. pg-boss's maximum.
    expireInSeconds: 24 * 3600,
    retryDelay: 0,
  };
}

/** One queued run. */
export interface Enqueued {
  jobId: string;
  task: string;
}

/**
 * Queue one run of each task (`taskId`, or the tasks a selection picks), recording `queue.enqueued`.
 * @param boss an open client (boss.ts) on the store `ctx` uses
 * @returns the queued runs, in task order
 * @throws StateError when the store is not PostgreSQL or the caller is inside a run; InputError when a
 *   task does not exist; nothing is queued or recorded then
 */
export async function enqueueRuns(ctx: Context, boss: PgBoss, what: { taskId?: string; all?: boolean; tag?: string; type?: string }): Promise<Enqueued[]> {
  assertOutsideRun('run --queue', ctx.env);
  if (!pgSessionOf(ctx.store)) throw new StateError('run --queue needs the team\'s PostgreSQL store; nothing was queued', { hint: 'Set store: postgres://… in .agentrc.yaml or AGENTCTL_STORE' });
  const cfg = ctx.project.config;
  const tasks: Task[] = what.taskId ? [findRunnableTask(ctx, what.taskId)] : selectTasks(allTasks(ctx).items, what);
  if (tasks.length === 0) return [];
  const baseBranch = cfg.baseBranch ?? (await ctx.git.currentBranch(ctx.project.root));
  if (!baseBranch) throw new StateError('HEAD is detached: check out the branch the runs should start from, or set baseBranch in .agentrc.yaml; nothing was queued');
  const by = await currentHuman(ctx);
  const host = currentHost();
  const name = queueName(cfg.project);
  await ensureQueue(boss, name);
  const options = jobOptions(cfg.queue);
  const jobs = tasks.map((t) => ({ id: randomUUID(), task: t }));
  const data = (t: Task): QueuedRun => ({ project: cfg.project, task: t.id, baseBranch, by, host });
  // All jobs in one statement, then all events in one append: a failed append takes the jobs back.
  await boss.insert(name, jobs.map((j) => ({ id: j.id, data: data(j.task), ...options })));
  const events: EventInput[] = jobs.map((j) => ({
    type: 'queue.enqueued',
    task: j.task.id,
    agent: j.task.agent,
    project: cfg.project,
    taskType: j.task.type,
    key: `queue.enqueued:${j.id}`,
    payload: { jobId: j.id, queue: name, by, host, baseBranch },
  }));
  try {
    ctx.store.append(events);
  } catch (error) {
    await boss.deleteJob(name, jobs.map((j) => j.id)).catch(() => undefined);
    throw error;
  }
  return jobs.map((j) => ({ jobId: j.id, task: j.task.id }));
}
