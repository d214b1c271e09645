/**
 * Reading the run queue's jobs with plain SQL: whether a worker still holds its lease on a run (crash
 * recovery, synchronously, through the event store's own connection), what waits and what runs
 * (`agentctl queue`, `worker --drain`).
 *
 * These read pg-boss's `job` table (documented in its usage guide as the table to read or insert jobs
 * outside Node.js): `id`, `name`, `state` (created, retry, active, completed, cancelled, failed),
 * `retry_count` (the attempt a claim holds), `data`, `created_on`, `started_on`, `heartbeat_on`,
 * `heartbeat_seconds`. Pinned with the pg-boss version in package.json; test/e2e/pg-queue.test.ts
 * drives them against the real library.
 */
import type { EventStore } from '../../evidence/store.js';
import type { PgEventStore } from '../../evidence/pg/pgStore.js';
import type { PgSession } from '../../evidence/pg/session.js';
import { QUEUE_SCHEMA } from './names.js';

/**
 * The heartbeat age, in seconds, at which a run's worker has lost its lease: three quarters of
 * `queue.leaseSeconds`. The worker renews the heartbeat every quarter lease (two renewals may be late
 * before the claim is lost) and recovery passes run every quarter lease, so a killed worker's run is
 * recorded interrupted at most `leaseSeconds` after it died. pg-boss accepts no heartbeat under 10 s,
 * hence `leaseSeconds` ≥ 16 (config.ts).
 */
export function heartbeatSecondsOf(leaseSeconds: number): number {
  return Math.floor((leaseSeconds * 3) / 4);
}

/** The queue job a run was started for, as `run.planned` records it. */
export interface QueueJobRef {
  queue: string;
  id: string;
  /** pg-boss's retry_count when the worker claimed it: which attempt the claim holds. */
  attempt: number;
  leaseSeconds: number;
}

/** The event store's PostgreSQL connection, or undefined for the SQLite store. */
export function pgSessionOf(store: EventStore): PgSession | undefined {
  const pg = store as Partial<PgEventStore>;
  return pg.backend === 'postgres' && pg.session ? pg.session : undefined;
}

/** Whether the queue schema exists in this database (a store initialised before the queue had none). */
function hasQueueSchema(s: PgSession): boolean {
  const [row] = s.query<{ ok: boolean }>(`SELECT to_regclass('${QUEUE_SCHEMA}.job') IS NOT NULL AS ok`);
  return row?.ok === true;
}

/**
 * Whether the worker that claimed `job` still holds it: the job is active in the same attempt and its
 * heartbeat is younger than the job's `heartbeat_seconds` ({@link heartbeatSecondsOf}; by the
 * database's clock, the one pg-boss's supervisor uses).
 * A job that is gone, settled, retried (a later attempt) or whose heartbeat is older has lost its lease.
 * @returns undefined when this store has no queue (SQLite, or no queue schema): nothing can be said
 */
export function leaseHeld(store: EventStore, job: QueueJobRef): boolean | undefined {
  const s = pgSessionOf(store);
  if (!s || !hasQueueSchema(s)) return undefined;
  const [row] = s.query<{ held: boolean }>(
    `SELECT state = 'active' AND retry_count = $3
            AND coalesce(heartbeat_on, started_on) + make_interval(secs => coalesce(heartbeat_seconds, $4)) >= now() AS held
       FROM ${QUEUE_SCHEMA}.job WHERE name = $1 AND id = $2::uuid`,
    [job.queue, job.id, job.attempt, job.leaseSeconds],
  );
  return row?.held === true;
}

/** One job that waits or runs. */
export interface QueueJobRow {
  id: string;
  state: 'created' | 'retry' | 'active';
  /** pg-boss's retry_count: 0 on the first attempt. */
  attempt: number;
  task: string;
  by: string;
  host: string;
  createdOn: string;
  startedOn: string | null;
  heartbeatOn: string | null;
}

/** SQL and parameters listing a queue's unfinished jobs (waiting first, oldest first). */
export function openJobsQuery(queue: string): { sql: string; params: unknown[] } {
  return {
    sql: `SELECT id::text AS id, state::text AS state, retry_count AS attempt, data->>'task' AS task, data->>'by' AS by, data->>'host' AS host,
                 to_char(created_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdOn",
                 to_char(started_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "startedOn",
                 to_char(heartbeat_on AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "heartbeatOn"
            FROM ${QUEUE_SCHEMA}.job WHERE name = $1 AND state IN ('created', 'retry', 'active')
           ORDER BY state = 'active', created_on, id`,
    params: [queue],
  };
}
