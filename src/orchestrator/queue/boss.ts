/**
 * The team run queue's client: pg-boss (https://github.com/timgit/pg-boss) on the same PostgreSQL database
 * as the shared event log, in its own schema `agentctl_queue`.
 *
 * - An administrator installs and upgrades the schema (`agentctl store init`, {@link installQueueSchema}):
 *   the writer role agentctl connects as only reads and writes rows there (`migrate: false`), as it does
 *   in the event store, so no worker needs DDL rights.
 * - One queue per project (its identity, identity.ts): a worker claims only its own project's runs.
 * - pg-boss claims with `FOR UPDATE SKIP LOCKED` (one claim per attempt), renews a job's heartbeat every
 *   half lease while its handler runs, and its supervisor fails (and retries, up to the job's retry
 *   limit) an active job whose heartbeat is older than the lease: that is the lease a killed worker loses.
 *
 * The client is asynchronous and runs in the main thread, beside the event store's synchronous client
 * (pg/session.ts), which stays in its worker thread.
 */
import { PgBoss, type ConstructorOptions } from 'pg-boss';
import { ConfigError } from '../../core/errors.js';
import { redactUrl } from '../../core/urlSecrets.js';
import { QUEUE_SCHEMA } from './names.js';

/** Options for {@link openBoss}. */
export interface OpenBossOptions {
  /** Run pg-boss's supervisor here (workers do: it expires lost leases); seconds between its passes. */
  superviseEverySeconds?: number;
  /** Connection pool size (default 4). */
  poolSize?: number;
}

/**
 * Connect a pg-boss client as the writer role: it never creates or migrates the schema (an administrator
 * did, `agentctl store init`), never rebuilds indexes (DDL) and runs no cron.
 * @param url the store URL (postgres://…)
 * @throws ConfigError when the server cannot be reached or the queue schema is missing or of another version
 */
export async function openBoss(url: string, options: OpenBossOptions = {}): Promise<PgBoss> {
  const every = options.superviseEverySeconds;
  const config: ConstructorOptions = {
    connectionString: url,
    schema: QUEUE_SCHEMA,
    application_name: 'agentctl-queue',
    max: options.poolSize ?? 4,
    migrate: false,
    createSchema: false,
    schedule: false,
    supervise: every !== undefined,
    reindex: false,
    monitorVacuum: false,
    registerInstance: false,
    ...(every !== undefined ? { superviseIntervalSeconds: every, monitorIntervalSeconds: every } : {}),
  };
  const boss = new PgBoss(config);
  // pg-boss reports background failures (a heartbeat that could not reach the server) as events: without
  // a listener an 'error' event would crash the process. A lost heartbeat shows as a lost lease instead.
  boss.on('error', () => undefined);
  try {
    await boss.start();
  } catch (error) {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
    throw new ConfigError(`cannot open the run queue in ${redactUrl(url)} (schema ${QUEUE_SCHEMA}): ${(error as Error).message}`, {
      hint: 'An administrator installs it once: agentctl store init --admin-url postgres://<administrator>@<host>/<database>',
      cause: error,
    });
  }
  return boss;
}

/** Create the project's queue when it does not exist yet (a row, no DDL: the writer may). */
export async function ensureQueue(boss: PgBoss, name: string): Promise<void> {
  if (await boss.getQueue(name)) return;
  await boss.createQueue(name, { policy: 'standard' });
}
