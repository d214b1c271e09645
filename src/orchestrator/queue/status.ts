/**
 * `agentctl queue`: what waits in the project's run queue (task, who queued it, since when) and who runs
 * what (the worker's machine, the run, since when), read from the queue's jobs and the runs in flight.
 */
import { StateError } from '../../core/errors.js';
import { listRuns } from '../../evidence/runsStore.js';
import type { Context } from '../context.js';
import { openJobsQuery, pgSessionOf, type QueueJobRow } from './lease.js';
import { QUEUE_SCHEMA, queueName } from './names.js';

/** A run waiting for a worker. */
export interface WaitingRun {
  jobId: string;
  task: string;
  queuedBy: string;
  queuedFrom: string;
  queuedAt: string;
  /** 1 on the first offer; more when a worker lost it before. */
  attempt: number;
}

/** A run a worker holds. */
export interface RunningRun {
  jobId: string;
  task: string;
  attempt: number;
  /** The run started for it, once planned; undefined while the worker fetches the base. */
  runId: string | undefined;
  /** The worker's machine and process, once the run is planned. */
  host: string | undefined;
  pid: number | undefined;
  since: string;
  /** The last heartbeat (the lease is renewed every half lease). */
  heartbeatAt: string | undefined;
}

/** The queue's state. */
export interface QueueStatus {
  queue: string;
  waiting: WaitingRun[];
  running: RunningRun[];
}

/**
 * Read the project's queue.
 * @throws StateError when the store is not PostgreSQL
 */
export function queueStatus(ctx: Context): QueueStatus {
  const session = pgSessionOf(ctx.store);
  if (!session) throw new StateError('the run queue lives in the team\'s PostgreSQL store, and this project uses the local one', { hint: 'Set store: postgres://… in .agentrc.yaml or AGENTCTL_STORE' });
  const project = ctx.project.config.project;
  const queue = queueName(project);
  const [installed] = session.query<{ ok: boolean }>(`SELECT to_regclass('${QUEUE_SCHEMA}.job') IS NOT NULL AS ok`);
  if (!installed?.ok) return { queue, waiting: [], running: [] };
  const { sql, params } = openJobsQuery(queue);
  const rows = session.query<QueueJobRow>(sql, params);
  // Runs in flight that a queue job started, by job id (the latest attempt's run wins).
  const byJob = new Map<string, { runId: string; host: string | undefined; pid: number | undefined; attempt: number }>();
  for (const run of listRuns(ctx.store, project, { states: ['planned', 'running'] }).runs.reverse()) {
    const planned = ctx.store.query({ runId: run.runId, types: ['run.planned'] })[0]?.payload;
    const job = planned?.queueJob as { id?: unknown; attempt?: unknown } | undefined;
    if (typeof job?.id !== 'string') continue;
    byJob.set(`${job.id}:${String(job.attempt)}`, { runId: run.runId, host: typeof planned?.ownerHost === 'string' ? planned.ownerHost : undefined, pid: typeof planned?.ownerPid === 'number' ? planned.ownerPid : undefined, attempt: Number(job.attempt) });
  }
  const waiting: WaitingRun[] = [];
  const running: RunningRun[] = [];
  for (const r of rows) {
    if (r.state === 'active') {
      const run = byJob.get(`${r.id}:${r.attempt}`);
      running.push({ jobId: r.id, task: r.task, attempt: r.attempt + 1, runId: run?.runId, host: run?.host, pid: run?.pid, since: r.startedOn ?? r.createdOn, heartbeatAt: r.heartbeatOn ?? undefined });
    } else {
      // pg-boss counts a retry when it claims a job that was started before.
      waiting.push({ jobId: r.id, task: r.task, queuedBy: r.by, queuedFrom: r.host, queuedAt: r.createdOn, attempt: r.attempt + (r.startedOn ? 2 : 1) });
    }
  }
  return { queue, waiting, running };
}
