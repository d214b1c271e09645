/**
 * A real PostgreSQL server per test file: the Debian `postgresql` binaries (`initdb`, `pg_ctl`) in a temp
 * folder, listening only on a Unix socket in that folder (no TCP port, nothing shared between files).
 * As root, the server runs as the `postgres` OS user (`runuser -u postgres --`): PostgreSQL refuses to
 * run as root. The tests need it (CI installs Debian's `postgresql`): where the binaries are missing,
 * {@link startPg} fails with {@link PG_MISSING}, which says how to install them.
 *
 * Usage: `const pg = await startPg()` in beforeAll, `await pg.stop()` in afterAll.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

/** The folder holding initdb and pg_ctl (highest installed major version), or undefined. */
function pgBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

const BIN_DIR = pgBinDir();
const hasPostgresUser = !isRoot || spawnSync('id', ['-u', 'postgres']).status === 0;

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export const PG_MISSING: string | undefined = !BIN_DIR
  ? 'PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb: sudo apt-get install postgresql)'
  : !hasPostgresUser
    ? 'running as root but there is no postgres OS user to run the server as (sudo apt-get install postgresql creates it)'
    : undefined;


/** A running test server. */
export interface PgServer {
  /** Folder of the server's Unix socket. */
  socketDir: string;
  /** Connection URL for `user` to `database` over the socket (trust authentication: no password). */
  url(database?: string, user?: string): string;
  /** Run SQL through psql as `user` (default: the superuser `postgres`); returns stdout. Throws on error. */
  psql(sql: string, database?: string, user?: string): string;
  /** A fresh database, empty. @returns its name */
  createDatabase(): string;
  stop(): Promise<void>;
}

const asServer = (argv: string[]): [string, string[]] => (isRoot ? ['runuser', ['-u', 'postgres', '--', ...argv]] : [argv[0]!, argv.slice(1)]);

function runAsServer(argv: string[]): string {
  const [cmd, args] = asServer(argv);
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let databases = 0;

/**
 * Start a server in a new temp folder (initdb with trust authentication, superuser `postgres`).
 * @throws when PostgreSQL is missing ({@link PG_MISSING}) or the server does not start (its log is in the message)
 */
export async function startPg(): Promise<PgServer> {
  if (PG_MISSING || !BIN_DIR) throw new Error(`PostgreSQL unavailable: ${PG_MISSING}`);
  const dir = mkdtempSync(join(tmpdir(), 'agentctl-pg-'));
  // The server's OS user must own its data folder; root reaches it anyway.
  chmodSync(dir, 0o755);
  if (isRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  runAsServer([join(BIN_DIR, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  try {
    // listen_addresses='' : socket only; fsync off: a test server need not survive a power cut.
    runAsServer([join(BIN_DIR, 'pg_ctl'), '-D', data, '-l', log, '-w', '-t', '60', '-o', `-k ${dir} -c listen_addresses= -c fsync=off -c max_connections=100`, 'start']);
  } catch (error) {
    const text = existsSync(log) ? execFileSync('cat', [log], { encoding: 'utf8' }) : '';
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${text}`);
  }
  const url = (database = 'postgres', user = 'postgres') => `postgres://${encodeURIComponent(user)}@${encodeURIComponent(dir)}/${encodeURIComponent(database)}`;
  const psql = (sql: string, database = 'postgres', user = 'postgres') =>
    execFileSync(join(BIN_DIR, 'psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-U', user, '-d', database, '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    socketDir: dir,
    url,
    psql,
    createDatabase() {
      const name = `t${process.pid}_${++databases}`;
      psql(`CREATE DATABASE ${name}`);
      return name;
    },
    async stop() {
      try {
        runAsServer([join(BIN_DIR, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A fresh, initialised team store on `server`: its writer URL, an AGENTCTL_HOME holding the team key, and the env to point agentctl at it. */
export interface PgStoreFixture {
  database: string;
  /** URL of the writer role (INSERT/SELECT only). */
  url: string;
  /** AGENTCTL_HOME with keys/team.key (0600 in a 0700 folder). */
  home: string;
  /** Env for the built CLI: AGENTCTL_STORE and AGENTCTL_HOME. */
  env: Record<string, string>;
}

/**
 * Create a database, initialise the store in it as the superuser (agentctl's own store init), and a home with a team key.
 * @param homeDir the AGENTCTL_HOME to put the key in (created)
 * @param options.queue also install the run queue's schema (what `agentctl store init` adds)
 */
export async function pgStoreFixture(server: PgServer, homeDir: string, writer = 'agentctl_writer', options: { queue?: boolean } = {}): Promise<PgStoreFixture> {
  const { connectPg } = await import('../src/evidence/pg/session.js');
  const { initPgStore } = await import('../src/evidence/pg/schema.js');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { randomBytes } = await import('node:crypto');
  const database = server.createDatabase();
  const admin = connectPg(server.url(database));
  try {
    initPgStore(admin, writer);
  } finally {
    admin.close();
  }
  if (options.queue) {
    // The run queue's schema (pg-boss), installed as `agentctl store init` does.
    const { installQueueSchema } = await import('../src/orchestrator/queue/install.js');
    await installQueueSchema(server.url(database), writer);
  }
  mkdirSync(join(homeDir, 'keys'), { recursive: true, mode: 0o700 });
  writeFileSync(join(homeDir, 'keys', 'team.key'), randomBytes(32), { mode: 0o600 });
  const url = server.url(database, writer);
  return { database, url, home: homeDir, env: { AGENTCTL_STORE: url, AGENTCTL_HOME: homeDir } };
}
