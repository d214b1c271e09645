/**
 * Installing the run queue's schema, as an administrator (`agentctl store init`): pg-boss creates or
 * migrates its tables in {@link QUEUE_SCHEMA}, owned by the administrator, and the writer role gets rows
 * (SELECT, INSERT, UPDATE, DELETE), sequences and functions there, and nothing else: it owns nothing,
 * so it can neither change the schema nor need to.
 */
import { PgBoss } from 'pg-boss';
import { ConfigError } from '../../core/errors.js';
import { redactUrl } from '../../core/urlSecrets.js';
import { QUEUE_SCHEMA } from './names.js';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Create or upgrade the queue schema and grant `writer` what workers need. Idempotent (pg-boss takes an
 * advisory lock around its migrations, so concurrent calls wait for each other).
 * @param adminUrl a superuser's or the database owner's URL
 * @param writer the role agentctl connects as (must exist: initPgStore creates it)
 * @returns pg-boss's schema version after the call
 * @throws ConfigError when the role name is not a plain identifier or the administrator lacks rights
 */
export async function installQueueSchema(adminUrl: string, writer: string): Promise<number> {
  if (!ROLE_NAME.test(writer)) throw new ConfigError(`the writer role name "${writer}" must match ${ROLE_NAME.source}`);
  const boss = new PgBoss({ connectionString: adminUrl, schema: QUEUE_SCHEMA, application_name: 'agentctl-store-init', max: 2, migrate: true, createSchema: true, schedule: false, supervise: false, registerInstance: false });
  boss.on('error', () => undefined);
  try {
    await boss.start();
    const db = boss.getDb();
    for (const sql of [
      `GRANT USAGE ON SCHEMA ${QUEUE_SCHEMA} TO ${writer}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${QUEUE_SCHEMA} TO ${writer}`,
      `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${QUEUE_SCHEMA} TO ${writer}`,
      `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${QUEUE_SCHEMA} TO ${writer}`,
    ]) {
      await db.executeSql(sql);
    }
    return (await boss.schemaVersion()) ?? 0;
  } catch (error) {
    throw new ConfigError(`cannot install the run queue (schema ${QUEUE_SCHEMA}) in ${redactUrl(adminUrl)}: ${(error as Error).message}`, { hint: 'Connect as a superuser or the owner of the database.', cause: error });
  } finally {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
  }
}
