/**
 * The PostgreSQL store's schema (in its own schema `agentctl`), its numbered migrations, and the checks
 * that the database itself keeps the log append-only:
 * - triggers reject UPDATE, DELETE (per row) and TRUNCATE (per statement) on `agentctl.events`;
 * - agentctl writes through a role that holds only INSERT and SELECT on it (UPDATE on the one head row,
 *   INSERT/UPDATE on the snapshots, INSERT/UPDATE/DELETE on the row projections, which are derived data
 *   authenticated under the team key): it owns nothing, so it can neither drop nor disable a trigger.
 * A store of an older schema version is refused at open (pgStore.ts) until an administrator upgrades it
 * with the same `agentctl store init`, which applies the missing migrations.
 * Migrations are applied by an administrator ({@link initPgStore}, `agentctl store init`), never by the
 * writer: a writer that could create the tables would own them.
 */
import { ConfigError } from '../../core/errors.js';
import { GENESIS_HASH } from '../events.js';
import type { PgSession } from './session.js';

/** The schema holding every agentctl table in the database. */
export const SCHEMA = 'agentctl';

/** The triggers that make `events` append-only, by name. */
export const PG_TRIGGERS = ['events_no_update', 'events_no_delete', 'events_no_truncate'] as const;

/** One migration: number, name, SQL (run by the administrator, in one transaction). */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/** Append new ones; never edit an applied one. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'append-only events with an authenticated hash chain, head row, projections',
    sql: `
      CREATE TABLE ${SCHEMA}.log_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        log_id uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO ${SCHEMA}.log_meta (id) VALUES (1);
      -- payload is text, not jsonb: what is hashed is exactly the bytes stored and read back.
      CREATE TABLE ${SCHEMA}.events (
        seq bigint PRIMARY KEY,
        key text NOT NULL UNIQUE,
        ts text NOT NULL,
        type text NOT NULL,
        version integer NOT NULL,
        run_id text,
        task text,
        agent text,
        project text,
        task_type text,
        payload text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL
      );
      CREATE INDEX events_by_run ON ${SCHEMA}.events (run_id, seq);
      CREATE INDEX events_by_trust_key ON ${SCHEMA}.events (project, agent, task_type, seq);
      CREATE INDEX events_by_type ON ${SCHEMA}.events (type, seq);
      CREATE FUNCTION ${SCHEMA}.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END
      $$;
      CREATE TRIGGER events_no_update BEFORE UPDATE ON ${SCHEMA}.events FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.events_append_only();
      CREATE TRIGGER events_no_delete BEFORE DELETE ON ${SCHEMA}.events FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.events_append_only();
      CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ${SCHEMA}.events FOR EACH STATEMENT EXECUTE FUNCTION ${SCHEMA}.events_append_only();
      -- The head of the chain: appends lock this row (SELECT ... FOR UPDATE), so they are serialised, and
      -- it carries the log's checkpoint inside the database (HMAC-SHA256 under the team key; NULL at seq 0).
      CREATE TABLE ${SCHEMA}.log_head (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        hash text NOT NULL,
        mac text
      );
      INSERT INTO ${SCHEMA}.log_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');
      CREATE TABLE ${SCHEMA}.projections (
        name text PRIMARY KEY,
        last_seq bigint NOT NULL,
        rules_hash text NOT NULL,
        state text NOT NULL,
        updated_at text NOT NULL,
        mac text
      );
    `,
  },
  {
    version: 2,
    name: 'persisted row projections (rows and heads authenticated under the team key)',
    // Keys are bytea holding the key's UTF-16BE code units: lossless for any JavaScript string (a text
    // column refuses NUL and alters lone surrogates, both of which an agent's follow-up id may hold), and
    // its byte order is JavaScript's string order, which paging by key (finishRebuildRows' merge join) relies on.
    // The indexes serve ProjectionRowQuery: kind or group equality newest first, everything newest first,
    // and key ranges (prefix, byKey paging) through the primary key.
    sql: `
      CREATE TABLE ${SCHEMA}.projection_heads (
        name text PRIMARY KEY,
        last_seq bigint NOT NULL,
        version text NOT NULL,
        mac text NOT NULL
      );
      CREATE TABLE ${SCHEMA}.projection_rows (
        name text NOT NULL,
        key bytea NOT NULL,
        value text NOT NULL,
        kind text,
        grp text,
        ord bigint NOT NULL,
        mac text NOT NULL,
        PRIMARY KEY (name, key)
      );
      CREATE INDEX projection_rows_by_order ON ${SCHEMA}.projection_rows (name, ord DESC);
      CREATE INDEX projection_rows_by_kind ON ${SCHEMA}.projection_rows (name, kind, ord DESC);
      CREATE INDEX projection_rows_by_group ON ${SCHEMA}.projection_rows (name, grp, ord DESC);
    `,
  },
];

/** The privileges the writer role gets, per table (and nothing else). */
const WRITER_GRANTS: Record<string, string> = {
  events: 'SELECT, INSERT',
  log_head: 'SELECT, UPDATE',
  log_meta: 'SELECT',
  projections: 'SELECT, INSERT, UPDATE',
  projection_heads: 'SELECT, INSERT, UPDATE, DELETE',
  projection_rows: 'SELECT, INSERT, UPDATE, DELETE',
  schema_migrations: 'SELECT',
};

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Create or upgrade the store's schema and grant the writer role what it needs (as an administrator:
 * a superuser, or the owner of the database). Idempotent; concurrent calls wait for each other.
 * @param admin a session connected as the administrator
 * @param writer the role agentctl connects as (created with LOGIN and no password when missing; give it
 *   one with `ALTER ROLE … PASSWORD` or use peer/cert authentication)
 * @returns the migrations applied now (names), and whether the role was created
 * @throws ConfigError when the role name is not a plain identifier, or the administrator lacks rights
 */
export function initPgStore(admin: PgSession, writer: string): { applied: string[]; roleCreated: boolean } {
  if (!ROLE_NAME.test(writer)) throw new ConfigError(`the writer role name "${writer}" must match ${ROLE_NAME.source}`);
  return admin.tx(() => {
    // One initialisation at a time: migrations are not safe to race.
    admin.query("SELECT pg_advisory_xact_lock(hashtext('agentctl-store-init'))");
    admin.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    admin.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(admin.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.schema_migrations`).map((r) => r.version));
    const applied: string[] = [];
    for (const m of PG_MIGRATIONS) {
      if (done.has(m.version)) continue;
      admin.query(m.sql);
      admin.query(`INSERT INTO ${SCHEMA}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.name);
    }
    const exists = admin.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [writer]).length > 0;
    if (!exists) admin.query(`CREATE ROLE ${writer} LOGIN`);
    admin.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${writer}`);
    for (const [table, privileges] of Object.entries(WRITER_GRANTS)) {
      admin.query(`REVOKE ALL ON ${SCHEMA}.${table} FROM ${writer}`);
      admin.query(`GRANT ${privileges} ON ${SCHEMA}.${table} TO ${writer}`);
    }
    return { applied, roleCreated: !exists };
  });
}

/** What {@link inspectPgSchema} found. */
export interface PgSchemaState {
  /** Highest applied migration (0: none, the store was never initialised). */
  version: number;
  /** Expected triggers that are missing or disabled, with why. */
  badTriggers: string[];
  /** Why the connected role could alter the log (owner, superuser, UPDATE/DELETE/TRUNCATE grants); empty when it cannot. */
  writerRights: string[];
  /** The log's identity (random at initialisation), when initialised. */
  logId: string | undefined;
  role: string;
}

/** Read the schema version, trigger state and the connected role's rights (one round trip). */
export function inspectPgSchema(s: PgSession): PgSchemaState {
  const [row] = s.query<{ role: string; initialised: boolean; is_super: boolean }>(
    `SELECT current_user AS role, to_regclass('${SCHEMA}.events') IS NOT NULL AND to_regclass('${SCHEMA}.schema_migrations') IS NOT NULL AS initialised,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_super`,
  );
  if (!row?.initialised) return { version: 0, badTriggers: [...PG_TRIGGERS], writerRights: [], logId: undefined, role: row?.role ?? '?' };
  const [state] = s.query<{ version: number; log_id: string; owner: boolean; upd: boolean; del: boolean; trunc: boolean; triggers: { name: string; enabled: string }[] }>(
    `SELECT (SELECT coalesce(max(version), 0) FROM ${SCHEMA}.schema_migrations) AS version,
            (SELECT log_id::text FROM ${SCHEMA}.log_meta WHERE id = 1) AS log_id,
            pg_has_role(current_user, c.relowner, 'USAGE') AS owner,
            has_table_privilege('${SCHEMA}.events', 'UPDATE') AS upd,
            has_table_privilege('${SCHEMA}.events', 'DELETE') AS del,
            has_table_privilege('${SCHEMA}.events', 'TRUNCATE') AS trunc,
            coalesce((SELECT json_agg(json_build_object('name', t.tgname, 'enabled', t.tgenabled)) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '[]'::json) AS triggers
       FROM pg_class c WHERE c.oid = '${SCHEMA}.events'::regclass`,
  );
  if (!state) throw new ConfigError('the PostgreSQL store has no events table');
  const present = new Map(state.triggers.map((t) => [t.name, t.enabled]));
  // 'O' fires in normal sessions; 'D' is disabled; 'R' fires only for replication: each one a way around it.
  const badTriggers = PG_TRIGGERS.flatMap((t) => (!present.has(t) ? [`${t} (missing)`] : present.get(t) !== 'O' && present.get(t) !== 'A' ? [`${t} (disabled)`] : []));
  const writerRights = [
    ...(row.is_super ? ['it is a superuser'] : []),
    ...(state.owner ? ['it owns the events table (it could drop or disable the triggers)'] : []),
    ...(state.upd ? ['it may UPDATE events'] : []),
    ...(state.del ? ['it may DELETE events'] : []),
    ...(state.trunc ? ['it may TRUNCATE events'] : []),
  ];
  return { version: state.version, badTriggers, writerRights, logId: state.log_id, role: row.role };
}

/** The migration version this agentctl expects. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.at(-1)!.version;
