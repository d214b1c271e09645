/**
 * The event store on PostgreSQL: the same synchronous {@link EventStore} as the SQLite one, for a log a
 * team shares. Appends lock the head row (SELECT … FOR UPDATE), so concurrent writers on any machine
 * make one chain; each event is chained by HMAC-SHA256 under the team key exactly as store.ts does it,
 * and the head row is moved in the same transaction. The database keeps the events append-only by
 * itself (schema.ts): agentctl refuses to write through a role that could alter them.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { ConfigError, InternalError } from '../../core/errors.js';
import { snapshotMac, snapshotMacMatches } from '../canonical.js';
import { GENESIS_HASH, chainEvent, type EventInput, type StoredEvent } from '../events.js';
import { checkPayload } from '../eventSchemas.js';
import type { LogAuth } from '../logAuth.js';
import type { ProjectionTables } from '../projectionTables.js';
import type { EventStore, ProjectionSnapshot } from '../store.js';
import { PG_KEYED_FROM, checkPgHead, headAuthentic, headMac, readLocalCheckpoint, readTeamKey, writeLocalCheckpoint, type HeadRow } from './auth.js';
import { fromRow, insertEvents, selectEvents, type EventRow } from './rows.js';
import { pgProjectionTables } from './projections.js';
import { PG_SCHEMA_VERSION, SCHEMA, inspectPgSchema, type PgSchemaState } from './schema.js';
import { redactUrl } from '../../core/urlSecrets.js';
import { connectPg, type PgSession } from './session.js';
import type { PgLogView } from './verify.js';

/** Options for {@link openPgEventStore}. */
export interface PgOpenOptions {
  /** The team's log key file (AGENTCTL_LOG_KEY_FILE, else `$AGENTCTL_HOME/keys/team.key`). */
  keyFile: string;
  /** This machine's folder of checkpoints of shared logs (`$AGENTCTL_HOME/stores`). */
  checkpointDir: string;
  /** Clock for event times (tests). */
  now?: () => Date;
  /** Open for inspection only (`audit verify`): no key needed, no checks; writes are refused. */
  allowTampered?: boolean;
}

/** An open PostgreSQL store. */
export interface PgEventStore extends EventStore {
  backend: 'postgres';
  session: PgSession;
  /** URL without its password, for messages. */
  name: string;
  schema: PgSchemaState;
  /** Key and keyed sequence (undefined when opened for inspection). */
  auth: LogAuth | undefined;
}

/** Refuse a store whose schema is missing, of another version, tampered with, or reachable by a role that could alter it. */
function requireUsable(name: string, st: PgSchemaState): void {
  const init = 'agentctl store init --admin-url postgres://<administrator>@<host>/<database>';
  if (st.version === 0) throw new ConfigError(`the PostgreSQL store ${name} is not initialised`, { hint: `An administrator runs once: ${init}` });
  if (st.version < PG_SCHEMA_VERSION) throw new ConfigError(`the PostgreSQL store ${name} has schema version ${st.version}; this agentctl needs ${PG_SCHEMA_VERSION}`, { hint: `An administrator upgrades it with: ${init}` });
  if (st.version > PG_SCHEMA_VERSION) throw new ConfigError(`the PostgreSQL store ${name} was upgraded by a newer agentctl (schema ${st.version}); upgrade agentctl on this machine`);
  if (st.badTriggers.length) {
    throw new ConfigError(`the shared event log ${name} was tampered with: its append-only triggers are missing or disabled (${st.badTriggers.join(', ')}); nothing was recorded`, { hint: 'Inspect it with: agentctl audit verify' });
  }
  if (st.writerRights.length) {
    throw new ConfigError(`agentctl connects to ${name} as role "${st.role}", which could alter the log: ${st.writerRights.join('; ')}`, {
      hint: `Connect as the writer role that \`${init} --writer <role>\` set up (INSERT and SELECT only).`,
    });
  }
}

/**
 * Open the PostgreSQL store at `url`.
 * @returns the store (see {@link PgEventStore})
 * @throws ConfigError when the server cannot be reached, the store is not initialised or of another
 *   schema version, its triggers are gone, the role could alter the log, the team key is missing, or
 *   the log fails authentication (auth.ts)
 */
export function openPgEventStore(url: string, options: PgOpenOptions): PgEventStore {
  const now = options.now ?? (() => new Date());
  const name = redactUrl(url);
  const s = connectPg(url);
  let auth: LogAuth | undefined;
  let schema: PgSchemaState;
  try {
    try {
      schema = inspectPgSchema(s);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`cannot read the PostgreSQL store ${name}: ${(error as Error).message}`, { hint: 'Connect as the writer role `agentctl store init` set up.', cause: error });
    }
    if (!options.allowTampered) {
      requireUsable(name, schema);
      const key = readTeamKey(options.keyFile, name);
      const logId = schema.logId!;
      // One snapshot: an append committed by another machine between two reads must not look like tampering.
      const head = s.snapshot(() => checkPgHead(name, key, readLocalCheckpoint(options.checkpointDir, logId), {
        head: () => readHead(s),
        top: () => s.query<EventRow>(`SELECT * FROM ${SCHEMA}.events ORDER BY seq DESC LIMIT 1`).map(fromRow)[0],
        from: (seq) => s.query<EventRow>(`SELECT * FROM ${SCHEMA}.events WHERE seq >= $1 ORDER BY seq`, [seq]).map(fromRow),
      }));
      writeLocalCheckpoint(options.checkpointDir, logId, key, head);
      auth = { key, keyedFrom: PG_KEYED_FROM };
    }
  } catch (error) {
    s.close();
    throw error;
  }

  const keyOf = (): LogAuth => {
    if (!auth) throw new InternalError('the event log was opened for inspection only; refusing to write');
    return auth;
  };

  const authenticProjection = (name: string, lock = false): ProjectionSnapshot | undefined => {
    const [row] = s.query<{ name: string; last_seq: number; rules_hash: string; state: string; mac: string | null }>(
      `SELECT name, last_seq, rules_hash, state, mac FROM ${SCHEMA}.projections WHERE name = $1${lock ? ' FOR UPDATE' : ''}`,
      [name],
    );
    if (!row || !auth) return undefined;
    const snapshot = { name: row.name, lastSeq: Number(row.last_seq), rulesHash: row.rules_hash, state: row.state };
    return row.mac !== null && snapshotMacMatches(auth.key, snapshot, row.mac) ? snapshot : undefined;
  };

  return {
    backend: 'postgres',
    session: s,
    name,
    schema,
    auth,
    append(events) {
      const { key } = keyOf();
      const list = Array.isArray(events) ? (events as readonly EventInput[]) : [events as EventInput];
      if (list.length === 0) return [];
      for (const e of list) checkPayload(e.type, e.payload); // a writer's bad payload: nothing is written
      const out = appendLocked(s, name, key, list, now);
      const last = out.stored.at(-1);
      if (last && out.wrote) writeLocalCheckpoint(options.checkpointDir, schema.logId!, key, { seq: last.seq, hash: last.hash });
      return out.stored;
    },
    projections: (() => {
      let tables: ProjectionTables | undefined;
      return () => (tables ??= pgProjectionTables(s, auth?.key));
    })(),
    query(q = {}) {
      const { sql, params } = selectEvents(q);
      return s.query<EventRow>(sql, params).map(fromRow);
    },
    headSeq() {
      return Number(s.query<{ seq: number }>(`SELECT coalesce(max(seq), 0) AS seq FROM ${SCHEMA}.events`)[0]?.seq ?? 0);
    },
    loadProjection(name) {
      return authenticProjection(name);
    },
    saveProjection(p) {
      const { key } = keyOf();
      s.tx(() => {
        // Never move an authentic snapshot backwards (unless the rules changed); an unauthentic one is replaced.
        const current = authenticProjection(p.name, true);
        if (current && current.lastSeq > p.lastSeq && current.rulesHash === p.rulesHash) return;
        s.query(
          `INSERT INTO ${SCHEMA}.projections (name, last_seq, rules_hash, state, updated_at, mac) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq, rules_hash = excluded.rules_hash, state = excluded.state, updated_at = excluded.updated_at, mac = excluded.mac`,
          [p.name, p.lastSeq, p.rulesHash, p.state, now().toISOString(), snapshotMac(key, p)],
        );
      });
    },
    close() {
      s.close();
    },
  };
}

/** Events read per page when a PostgreSQL log is verified. */
export const VERIFY_PAGE_EVENTS = 1_000;

/**
 * What verification reads of a PostgreSQL log: the events a page at a time ({@link VERIFY_PAGE_EVENTS}), their
 * count, the newest, and a lookup by sequence. Call it, and walk the events, inside one snapshot
 * (`session.snapshot`): every read is then of one state of the database.
 */
export function pgLogView(store: PgEventStore): PgLogView {
  const { count, seq } = store.session.query<{ count: number; seq: number | null }>(`SELECT count(*) AS count, max(seq) AS seq FROM ${SCHEMA}.events`)[0]!;
  const hashAt = (at: number): string | undefined => store.session.query<{ hash: string }>(`SELECT hash FROM ${SCHEMA}.events WHERE seq = $1`, [at])[0]?.hash;
  const newest = seq === null ? undefined : { seq: Number(seq), hash: hashAt(Number(seq))! };
  function* events(): Generator<StoredEvent> {
    for (let after = 0; ; ) {
      const page = store.query({ afterSeq: after, limit: VERIFY_PAGE_EVENTS });
      yield* page;
      if (page.length < VERIFY_PAGE_EVENTS) return;
      after = page.at(-1)!.seq;
    }
  }
  return { events: events(), count: Number(count), newest, hashAt };
}

/** The head row. */
export function readHead(s: PgSession): HeadRow {
  const [h] = s.query<HeadRow>(`SELECT seq, hash, mac FROM ${SCHEMA}.log_head WHERE id = 1`);
  if (!h) throw new ConfigError('the PostgreSQL store has no head row: it was tampered with', { hint: 'Inspect it with: agentctl audit verify' });
  return { seq: Number(h.seq), hash: h.hash, mac: h.mac };
}

/**
 * Append under the head row's lock: two round trips to the worker (lock + reads, then insert + head
 * update + commit). Events whose key is stored already are returned as stored (idempotent retries).
 * @returns the stored events and whether any was written
 */
function appendLocked(s: PgSession, name: string, key: KeyObject, list: readonly EventInput[], now: () => Date): { stored: StoredEvent[]; wrote: boolean } {
  const explicitKeys = list.flatMap((e) => (e.key === undefined ? [] : [e.key]));
  let reads: Record<string, unknown>[][];
  try {
    reads = s.batch([
      { sql: 'BEGIN' },
      { sql: `SELECT seq, hash, mac FROM ${SCHEMA}.log_head WHERE id = 1 FOR UPDATE`, name: 'agentctl_lock_head' },
      // A statement of its own: in READ COMMITTED it sees what the previous lock holder committed.
      { sql: `SELECT seq, hash FROM ${SCHEMA}.events ORDER BY seq DESC LIMIT 1`, name: 'agentctl_top_event' },
      ...(explicitKeys.length ? [{ sql: `SELECT * FROM ${SCHEMA}.events WHERE key = ANY($1::text[])`, params: [explicitKeys] }] : []),
    ]);
  } catch (error) {
    rollback(s);
    throw error;
  }
  try {
    const headRow = reads[1]![0] as unknown as HeadRow | undefined;
    const top = reads[2]![0] as { seq: number; hash: string } | undefined;
    const head: HeadRow | undefined = headRow && { seq: Number(headRow.seq), hash: headRow.hash, mac: headRow.mac };
    if (!head || !headAuthentic(key, head) || Number(top?.seq ?? 0) !== head.seq || (top?.hash ?? GENESIS_HASH) !== head.hash) {
      throw new ConfigError(`the shared event log ${name} fails authentication: its head row does not match its newest event or the team key; nothing was recorded`, { hint: 'Inspect it with: agentctl audit verify' });
    }
    const known = new Map(((reads[3] ?? []) as unknown as EventRow[]).map((r) => [r.key, fromRow(r)]));
    let seq = head.seq;
    let prevHash = head.hash;
    const stored: StoredEvent[] = [];
    const rows: { event: StoredEvent; payloadText: string }[] = [];
    const ts = now().toISOString(); // one time for the whole append (events that set their own keep it)
    for (const input of list) {
      const eventKey = input.key ?? randomUUID();
      const existing = known.get(eventKey);
      if (existing) {
        stored.push(existing);
        continue;
      }
      const { event, payloadText } = chainEvent(input, eventKey, { seq, hash: prevHash }, key, ts);
      rows.push({ event, payloadText });
      known.set(eventKey, event);
      stored.push(event);
      seq = event.seq;
      prevHash = event.hash;
    }
    if (rows.length === 0) {
      s.query('COMMIT');
      return { stored, wrote: false };
    }
    s.batch([
      insertEvents(rows),
      { sql: `UPDATE ${SCHEMA}.log_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1`, params: [seq, prevHash, headMac(key, seq, prevHash)], name: 'agentctl_move_head' },
      { sql: 'COMMIT' },
    ]);
    return { stored, wrote: true };
  } catch (error) {
    rollback(s);
    throw error;
  }
}

function rollback(s: PgSession): void {
  try {
    s.query('ROLLBACK');
  } catch {
    // The connection may be gone; the server rolls back on its own then.
  }
}
