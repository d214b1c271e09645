/** `agentctl store init`: create or upgrade a team's PostgreSQL store and its run queue (run once by an administrator). */
import { AgentctlError, ConfigError, EXIT, InputError } from '../core/errors.js';
import { isPostgresUrl } from '../evidence/openStore.js';
import { initPgStore } from '../evidence/pg/schema.js';
import { redactUrl } from '../core/urlSecrets.js';
import { connectPg } from '../evidence/pg/session.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

export default async function storeInit(opts: { adminUrl: string; writer: string; json?: boolean }): Promise<number> {
  if (!isPostgresUrl(opts.adminUrl)) throw new InputError(`--admin-url must be a postgres:// URL`, { field: 'admin-url' });
  const admin = connectPg(opts.adminUrl);
  try {
    let result: ReturnType<typeof initPgStore>;
    try {
      result = initPgStore(admin, opts.writer);
    } catch (error) {
      if (error instanceof AgentctlError) throw error;
      throw new ConfigError(`cannot initialise the store ${redactUrl(opts.adminUrl)}: ${(error as Error).message}; nothing was changed`, { hint: 'Connect as a superuser or the owner of the database.', cause: error });
    }
    const { applied, roleCreated } = result;
    // The run queue (pg-boss) in the same database: its schema, and rows (no DDL) for the writer.
    const { installQueueSchema } = await import('../orchestrator/queue/install.js');
    const queueVersion = await installQueueSchema(opts.adminUrl, opts.writer);
    const store = redactUrl(opts.adminUrl);
    if (opts.json) printJson({ store, writer: opts.writer, applied, roleCreated, queue: { schema: 'agentctl_queue', version: queueVersion } });
    else {
      println(applied.length ? `Store ${terminalSafe(store)}: applied ${applied.length} migration(s).` : `Store ${terminalSafe(store)} is up to date.`);
      println(`Writer role ${opts.writer}${roleCreated ? ' created (LOGIN, no password: set one with ALTER ROLE … PASSWORD, or use peer/cert authentication)' : ''}: INSERT and SELECT on the events, nothing more.`);
      println(`Run queue: schema agentctl_queue (pg-boss, version ${queueVersion}); the writer reads and writes its rows, and changes nothing else.`);
      println(`Point agentctl at it: AGENTCTL_STORE=postgres://${opts.writer}@<host>/<database> (or store: in .agentrc.yaml), with the team key in AGENTCTL_LOG_KEY_FILE.`);
    }
    return EXIT.OK;
  } finally {
    admin.close();
  }
}
