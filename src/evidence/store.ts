/**
 * The event store: an append-only SQLite log (better-sqlite3, WAL, synchronous=FULL) behind a small
 * interface. Appends run in IMMEDIATE transactions so a busy database waits (busy_timeout) instead of
 * failing; each event is chained to the one before it by HMAC-SHA256 under the installation's log key
 * (found beside the database: `<dir>/keys/log.key`, see logAuth.ts), and so are the checkpoint and the
 * persisted projections.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import { ConfigError, InternalError } from '../core/errors.js';
import { homePaths } from '../core/paths.js';
import { snapshotMac, snapshotMacMatches } from './canonical.js';
import { checkPayload } from './eventSchemas.js';
import { GENESIS_HASH, chainEvent, type EventInput, type StoredEvent } from './events.js';
import { missingTriggers, schemaFingerprint, writeCheckpoint } from './integrity.js';
import { establishLogAuth, type LogAuth } from './logAuth.js';
import { MIGRATIONS } from './migrations.js';
import { PROJECTION_TABLES_SQL, sqliteProjectionTables } from './projectionStore.js';
import type { ProjectionTables } from './projectionTables.js';

/** Filter for reading events. All fields optional; results are in sequence order. */
export interface EventQuery {
  runId?: string;
  project?: string;
  types?: readonly string[];
  /** Only events with seq greater than this. */
  afterSeq?: number;
  /** At most this many events (from the start of the selection). */
  limit?: number;
  /** Only the newest this many events of the selection (still returned in sequence order); read newest first through the index, so it costs what it returns. */
  newest?: number;
  /** With `project`: also the events of no project (the kill switch and other global ones). */
  withGlobal?: boolean;
}

/** The event log. */
export interface EventStore {
  /**
   * Append events atomically (all or none), chained after the current head.
   * Events whose `key` is already stored are skipped (idempotent retries) and returned as stored.
   * @returns the stored events in order
   */
  append(events: EventInput | readonly EventInput[]): StoredEvent[];
  /** Read events in sequence order. */
  query(q?: EventQuery): StoredEvent[];
  /** Highest sequence number (0 when empty). */
  headSeq(): number;
  /** A persisted projection snapshot, or undefined. Projections are derived data, never evidence. */
  loadProjection(name: string): ProjectionSnapshot | undefined;
  /** Store a projection snapshot (replaces the previous one). */
  saveProjection(snapshot: ProjectionSnapshot): void;
  /** Row projections (derived data, authenticated like snapshots): see projectionTables.ts. */
  projections(): ProjectionTables;
  /** Write the checkpoint an append left pending (see CHECKPOINT_COALESCE_MS; a failed write leaves it behind, as after a crash), then close the database. */
  close(): void;
}

/** A saved projection: its state as JSON text, the last event sequence folded in, and the rules it was computed with. */
export interface ProjectionSnapshot {
  name: string;
  lastSeq: number;
  rulesHash: string;
  state: string;
}

/** Milliseconds a writer waits for a lock held by another process before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 15_000;

/**
 * Milliseconds within which appends share one checkpoint write. The first append after a quiet spell
 * writes the checkpoint at once; later appends of a burst (a tool's stream of calls and results) leave
 * it to a timer set to this many ms, to `close()`, or to the process's exit, whichever comes
 * first. Measured on one-event appends (ext4, synchronous=FULL): the in-place write after each commit's
 * fsync cost ~150 µs, half of a raw insert's whole time. Meanwhile the checkpoint is behind the log
 * (never ahead), as after a crash: opening the log verifies the events since the checkpoint with the key.
 */
export const CHECKPOINT_COALESCE_MS = 50;

/** Pending checkpoint writes of open stores, run when the process exits (see CHECKPOINT_COALESCE_MS). */
const unflushedCheckpoints = new Set<() => void>();
let exitHookInstalled = false;

/** Run `flush` when the process exits unless it ran before (it removes itself); one exit listener for all stores. */
function flushOnExit(flush: () => void): void {
  unflushedCheckpoints.add(flush);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const f of [...unflushedCheckpoints]) f();
  });
}

/** An events row as stored (SQLite and PostgreSQL use the same columns). */
export interface EventRow {
  seq: number;
  key: string;
  ts: string;
  type: string;
  version: number;
  run_id: string | null;
  task: string | null;
  agent: string | null;
  project: string | null;
  task_type: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

/** Convert a stored row to an event (payload parsed from its stored canonical text; a bigint seq as a number). */
export function fromRow(r: EventRow): StoredEvent {
  return {
    seq: Number(r.seq),
    key: r.key,
    ts: r.ts,
    type: r.type,
    version: r.version,
    runId: r.run_id ?? undefined,
    task: r.task ?? undefined,
    agent: r.agent ?? undefined,
    project: r.project ?? undefined,
    taskType: r.task_type ?? undefined,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** The columns of an events row in the order {@link fromRawRow} reads them. */
const RAW_COLUMNS = 'seq, key, ts, type, version, run_id, task, agent, project, task_type, payload, prev_hash, hash';
type RawEventRow = [seq: number, key: string, ts: string, type: string, version: number, runId: string | null, task: string | null, agent: string | null, project: string | null, taskType: string | null, payload: string, prevHash: string, hash: string];

/** {@link fromRow} of a row read as an array of {@link RAW_COLUMNS}. */
function fromRawRow(r: RawEventRow): StoredEvent {
  return {
    seq: Number(r[0]),
    key: r[1],
    ts: r[2],
    type: r[3],
    version: r[4],
    runId: r[5] ?? undefined,
    task: r[6] ?? undefined,
    agent: r[7] ?? undefined,
    project: r[8] ?? undefined,
    taskType: r[9] ?? undefined,
    payload: JSON.parse(r[10]) as Record<string, unknown>,
    prevHash: r[11],
    hash: r[12],
  };
}

/** Options for {@link openEventStore}. */
export interface OpenOptions {
  /** Clock for event times (tests). */
  now?: () => Date;
  /**
   * Open for inspection only (`audit verify`): even when the schema fingerprint shows tampering, and
   * without settling or creating the key; appends and projection saves are refused.
   */
  allowTampered?: boolean;
  /** The installation's log key file; default: `keys/log.key` in the database's folder (the home). */
  keyFile?: string;
}

let expectedFingerprint: string | undefined;
/** Fingerprint of the events schema as the migrations create it (computed once, in memory). */
export function expectedSchemaFingerprint(): string {
  if (!expectedFingerprint) {
    const mem = new Database(':memory:');
    migrate(mem);
    expectedFingerprint = schemaFingerprint(mem);
    mem.close();
  }
  return expectedFingerprint;
}

/**
 * Open (creating if needed) the event store at `file`, apply pending migrations, and settle its key
 * (created on a log's first use; a legacy sha256 log is keyed from its next event on).
 * @returns the store, its database handle, whether the schema was tampered with, and `auth` (the key
 *   and first keyed sequence, for `verifyChain(store.query(), store.auth)`; undefined with `allowTampered`)
 * @throws ConfigError when the file cannot be opened or created, its schema was tampered with, or it
 *   fails authentication (key missing or damaged, checkpoint missing or forged, events since the
 *   checkpoint not written with the key): see logAuth.ts
 */
export function openEventStore(file: string, options: OpenOptions = {}): EventStore & { db: Database.Database; tampered: boolean; auth: LogAuth | undefined } {
  const now = options.now ?? (() => new Date());
  let db: Database.Database;
  try {
    mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
  } catch (error) {
    throw new ConfigError(`cannot open the event log ${file}: ${(error as Error).message}`, { cause: error });
  }
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  try {
    retryWhileBusy(() => {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      db.exec(PROJECTION_TABLES_SQL);
    });
  } catch (error) {
    db.close();
    throw error;
  }
  const tampered = schemaFingerprint(db) !== expectedSchemaFingerprint();
  if (tampered && !options.allowTampered) {
    const missing = missingTriggers(db);
    db.close();
    throw new ConfigError(`the event log ${file} was tampered with: its schema was altered${missing.length ? ` (missing triggers: ${missing.join(', ')})` : ''}; nothing was recorded`, {
      hint: 'Inspect it with: agentctl audit verify',
    });
  }

  let auth: LogAuth | undefined;
  if (!options.allowTampered) {
    try {
      auth = establishLogAuth(file, options.keyFile ?? homePaths(dirname(file)).keyFile, {
        head: () => {
          const row = db.prepare('SELECT * FROM events ORDER BY seq DESC LIMIT 1').get() as EventRow | undefined;
          return row && fromRow(row);
        },
        from: (seq) => (db.prepare('SELECT * FROM events WHERE seq >= ? ORDER BY seq').all(seq) as EventRow[]).map(fromRow),
        locked: (fn) => db.transaction(fn).immediate(),
      });
    } catch (error) {
      db.close();
      throw error;
    }
  }
  const keyOf = (): LogAuth => {
    if (tampered) throw new ConfigError('the event log was tampered with; refusing to append');
    if (!auth) throw new InternalError('the event log was opened for inspection only; refusing to write');
    return auth;
  };

  /** The saved snapshot when its authentication code verifies: one edited in the database is ignored (rebuilt from the events). */
  const authenticProjection = (name: string): ProjectionSnapshot | undefined => {
    const row = db.prepare('SELECT name, last_seq, rules_hash, state, mac FROM projections WHERE name = ?').get(name) as
      | { name: string; last_seq: number; rules_hash: string; state: string; mac: string | null }
      | undefined;
    if (!row || !auth) return undefined;
    const snapshot = { name: row.name, lastSeq: row.last_seq, rulesHash: row.rules_hash, state: row.state };
    return row.mac !== null && snapshotMacMatches(auth.key, snapshot, row.mac) ? snapshot : undefined;
  };

  const insert = db.prepare(
    `INSERT INTO events (seq, key, ts, type, version, run_id, task, agent, project, task_type, payload, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const head = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1');
  const byKey = db.prepare('SELECT * FROM events WHERE key = ?');

  const appendTx = db.transaction((inputs: readonly EventInput[], logKey: KeyObject, ts: string): StoredEvent[] => {
    const top = head.get() as { seq: number; hash: string } | undefined;
    let seq = top?.seq ?? 0;
    let prevHash = top?.hash ?? GENESIS_HASH;
    const out: StoredEvent[] = [];
    for (const input of inputs) {
      // A key the caller chose may be stored already (a retry); a fresh random one cannot be (and the
      // events_no_replace trigger would refuse a collision), so only a caller's key is looked up.
      const key = input.key ?? randomUUID();
      const existing = input.key === undefined ? undefined : (byKey.get(key) as EventRow | undefined);
      if (existing) {
        out.push(fromRow(existing));
        continue;
      }
      const { event, payloadText } = chainEvent(input, key, { seq, hash: prevHash }, logKey, ts);
      insert.run(event.seq, key, event.ts, event.type, event.version, event.runId ?? null, event.task ?? null, event.agent ?? null, event.project ?? null, event.taskType ?? null, payloadText, prevHash, event.hash);
      seq = event.seq;
      prevHash = event.hash;
      out.push(event);
    }
    return out;
  });

  // The checkpoint lives outside the database so truncation or a restored old copy is detectable.
  let pendingCheckpoint: { seq: number; hash: string; keyedFrom: number } | undefined;
  let lastCheckpointAt = Number.NEGATIVE_INFINITY;
  let checkpointTimer: NodeJS.Timeout | undefined;
  /** Write the pending checkpoint now; it stays pending when the write fails. @throws what writeCheckpoint throws */
  const flushCheckpoint = (): void => {
    if (checkpointTimer) clearTimeout(checkpointTimer);
    checkpointTimer = undefined;
    unflushedCheckpoints.delete(flushQuietly);
    const c = pendingCheckpoint;
    if (!c || !auth) return;
    lastCheckpointAt = performance.now();
    writeCheckpoint(file, auth.key, c);
    if (pendingCheckpoint === c) pendingCheckpoint = undefined;
  };
  /** {@link flushCheckpoint} from a timer, the process's exit or close(): a failure leaves it behind, as after a crash (the next append writes it, and opening verifies the tail). */
  const flushQuietly = (): void => {
    try {
      flushCheckpoint();
    } catch {
      // left behind; the process's exit tries once more
      unflushedCheckpoints.add(flushQuietly);
    }
  };

  let tables: ProjectionTables | undefined;
  return {
    db,
    tampered,
    auth,
    projections() {
      return (tables ??= sqliteProjectionTables(db, tampered ? undefined : auth?.key));
    },
    append(events) {
      const { key, keyedFrom } = keyOf();
      const list = Array.isArray(events) ? (events as readonly EventInput[]) : [events as EventInput];
      for (const e of list) checkPayload(e.type, e.payload); // a writer's bad payload: nothing is written
      // One time for the whole append (events that set their own `ts` keep it).
      const stored = appendTx.immediate(list, key, now().toISOString());
      // The newest event this append returned: a retried key returns its older stored event, which must
      // not move a pending checkpoint back.
      const top = stored.reduce<StoredEvent | undefined>((a, e) => (!a || e.seq > a.seq ? e : a), undefined);
      if (top && (!pendingCheckpoint || top.seq > pendingCheckpoint.seq)) {
        pendingCheckpoint = { seq: top.seq, hash: top.hash, keyedFrom };
        if (performance.now() - lastCheckpointAt >= CHECKPOINT_COALESCE_MS) flushCheckpoint();
        else if (!checkpointTimer) {
          checkpointTimer = setTimeout(flushQuietly, CHECKPOINT_COALESCE_MS).unref();
          flushOnExit(flushQuietly);
        }
      }
      return stored;
    },
    query(q = {}) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (q.runId !== undefined) (where.push('run_id = ?'), params.push(q.runId));
      if (q.project !== undefined) (where.push(q.withGlobal ? '(project = ? OR project IS NULL)' : 'project = ?'), params.push(q.project));
      if (q.afterSeq !== undefined) (where.push('seq > ?'), params.push(q.afterSeq));
      if (q.types?.length) (where.push(`type IN (${q.types.map(() => '?').join(',')})`), params.push(...q.types));
      const selection = `SELECT ${RAW_COLUMNS} FROM events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
      const limit = q.limit ? ` LIMIT ${Math.floor(q.limit)}` : '';
      const sql = q.newest ? `SELECT * FROM (${selection} ORDER BY seq DESC LIMIT ${Math.floor(q.newest)}) ORDER BY seq${limit}` : `${selection} ORDER BY seq${limit}`;
      // Rows as arrays, not objects keyed by column name: a rebuild reads a million of them.
      return (db.prepare(sql).raw(true).all(...params) as RawEventRow[]).map(fromRawRow);
    },
    headSeq() {
      return (head.get() as { seq: number } | undefined)?.seq ?? 0;
    },
    loadProjection(name) {
      return authenticProjection(name);
    },
    saveProjection(s) {
      const { key } = keyOf();
      db.transaction(() => {
        // Never move an authentic snapshot backwards (unless the rules changed); an unauthentic one is replaced.
        const current = authenticProjection(s.name);
        if (current && current.lastSeq > s.lastSeq && current.rulesHash === s.rulesHash) return;
        db.prepare(
          `INSERT INTO projections (name, last_seq, rules_hash, state, updated_at, mac) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET last_seq = excluded.last_seq, rules_hash = excluded.rules_hash, state = excluded.state, updated_at = excluded.updated_at, mac = excluded.mac`,
        ).run(s.name, s.lastSeq, s.rulesHash, s.state, now().toISOString(), snapshotMac(key, s));
      }).immediate();
    },
    close() {
      flushQuietly();
      db.close();
    },
  };
}

/**
 * Run `setup` again while SQLite reports the database busy or locked, for at most BUSY_TIMEOUT_MS.
 * SQLite does not call the busy handler for every lock: switching a new file to WAL, and opening while
 * another connection's close-time checkpoint holds the file, return SQLITE_BUSY at once (see
 * https://sqlite.org/wal.html, "Sometimes Queries Return SQLITE_BUSY In WAL Mode"). `setup` must be
 * idempotent. Waits 5–50 ms between attempts (a blocking sleep: opening the store is synchronous).
 * @throws the last SqliteError once the deadline passes, or any other error at once
 */
function retryWhileBusy(setup: () => void): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      setup();
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const busy = typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
      if (!busy || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, Math.min(50, 5 * (attempt + 1)));
    }
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      // Another process may have applied it while we waited for the write lock.
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}
