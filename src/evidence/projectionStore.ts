/**
 * Row projections in the event log's own SQLite file (see projectionTables.ts for the interface).
 * Two tables beside `events`: `projection_heads` (per projection: last sequence folded, logic version)
 * and `projection_rows` (per row: key, two equality indexes, a sort order, JSON value). Every head and
 * row carries an HMAC-SHA256 under the log key, so a row edited in the database is detected on read.
 * They are not part of the events schema fingerprint: derived data, rebuildable from the events.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import { InternalError } from '../core/errors.js';
import { canonicalJson, hmacSha256, sameDigest } from './canonical.js';
import { ProjectionDamagedError, type ProjectionHead, type ProjectionReader, type ProjectionRow, type ProjectionRowQuery, type ProjectionTables, type ProjectionWriter } from './projectionTables.js';

/** SQL creating the tables (idempotent; run with the migrations, inside their busy retry). */
export const PROJECTION_TABLES_SQL = `
  CREATE TABLE IF NOT EXISTS projection_heads (
    name TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    version TEXT NOT NULL,
    mac TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS projection_rows (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT,
    grp TEXT,
    ord INTEGER NOT NULL,
    value TEXT NOT NULL,
    mac TEXT NOT NULL,
    PRIMARY KEY (name, key)
  );
  CREATE INDEX IF NOT EXISTS projection_rows_by_order ON projection_rows(name, ord);
  CREATE INDEX IF NOT EXISTS projection_rows_by_kind ON projection_rows(name, kind, ord);
  CREATE INDEX IF NOT EXISTS projection_rows_by_group ON projection_rows(name, grp, ord);
`;

interface RowRecord {
  key: string;
  kind: string | null;
  grp: string | null;
  ord: number;
  value: string;
  mac: string;
}

/** Authentication code of a projection head (HMAC-SHA256 under the log key; every backend uses this one). */
export const projectionHeadMac = (key: KeyObject, name: string, h: ProjectionHead): string =>
  hmacSha256(key, `agentctl-projection-head/1\n${canonicalJson({ name, lastSeq: h.lastSeq, version: h.version })}`);
/** JSON text of a string or null, as canonicalJson writes it (JSON.stringify of a string gives the same bytes). */
const jsonText = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));

/** The fields of a row's code but its value: canonicalJson({ name, key, kind, group, order }) written directly. @throws TypeError for a non-finite order */
const rowHeader = (name: string, r: ProjectionRow): string => {
  if (!Number.isFinite(r.order)) throw new TypeError(`cannot encode ${r.order} canonically`);
  return `{"group":${jsonText(r.group)},"key":${JSON.stringify(r.key)},"kind":${jsonText(r.kind)},"name":${JSON.stringify(name)},"order":${r.order}}`;
};

/**
 * Authentication code of a projection row (HMAC-SHA256 under the log key; every backend uses this one),
 * version 2: of `agentctl-projection-row/2`, a newline, canonicalJson({ name, key, kind, group, order }),
 * a newline, then the value text as it is. The header is one line (JSON escapes every newline in it), so
 * the value cannot be moved into it; the value is not escaped again (version 1 JSON-encoded it, which
 * doubled the work of every row written and read: a rebuild authenticates hundreds of thousands).
 * @throws TypeError for a non-finite order (canonicalJson refuses it)
 */
export const projectionRowMac = (key: KeyObject, name: string, r: ProjectionRow): string =>
  createHmac('sha256', key).update(`agentctl-projection-row/2\n${rowHeader(name, r)}\n`).update(r.value).digest('hex');

/** Version 1 of the row code (rows written before version 2): `agentctl-projection-row/1`, a newline and canonicalJson({ name, key, kind, group, order, value }). */
const projectionRowMacV1 = (key: KeyObject, name: string, r: ProjectionRow): string =>
  hmacSha256(key, `agentctl-projection-row/1\n${rowHeader(name, r).slice(0, -1)},"value":${JSON.stringify(r.value)}}`);

/** Whether `mac` authenticates the row: {@link projectionRowMac}, or for a row written before it, version 1 (the next write uses version 2). */
export function projectionRowMacMatches(key: KeyObject, name: string, r: ProjectionRow, mac: string): boolean {
  return sameDigest(mac, projectionRowMac(key, name, r)) || sameDigest(mac, projectionRowMacV1(key, name, r));
}

/**
 * A stored row, returned only when its code verifies.
 * @param key the log key; undefined (inspection only) verifies nothing
 * @throws ProjectionDamagedError when the code does not verify
 */
export function verifiedRow(key: KeyObject | undefined, name: string, row: ProjectionRow, mac: string): ProjectionRow {
  if (!key || !projectionRowMacMatches(key, name, row, mac)) throw new ProjectionDamagedError(name, `row ${JSON.stringify(row.key)}`);
  return row;
}

/**
 * A stored head, returned only when its code verifies.
 * @throws ProjectionDamagedError when the code does not verify
 */
export function verifiedHead(key: KeyObject, name: string, head: ProjectionHead, mac: string): ProjectionHead {
  if (!sameDigest(mac, projectionHeadMac(key, name, head))) throw new ProjectionDamagedError(name, 'head');
  return head;
}

/** Where a set of projection tables lives, and what kind it is. */
interface Place {
  rows: string;
  heads: string;
  /**
   * True for the log file's tables, which other processes share: every row and head carries an
   * authentication code, and rows have the secondary indexes. False for the connection's private scratch
   * tables: no other process can write them, and rebuilds read them by key only.
   */
  shared: boolean;
}

/**
 * SQL creating the private scratch tables of a connection (only the primary key: rebuilds read by key), in
 * a temporary file, not in memory (SQLite pages them out past its cache, so a rebuild's memory stays flat
 * whatever the log's size; the pragma also drops the connection's other temporary tables: there are none).
 */
const SCRATCH_TABLES_SQL = `
  PRAGMA temp_store = FILE;
  CREATE TEMP TABLE IF NOT EXISTS scratch_heads (name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, version TEXT NOT NULL, mac TEXT NOT NULL);
  CREATE TEMP TABLE IF NOT EXISTS scratch_rows (
    name TEXT NOT NULL, key TEXT NOT NULL, kind TEXT, grp TEXT, ord INTEGER NOT NULL, value TEXT NOT NULL, mac TEXT NOT NULL,
    PRIMARY KEY (name, key)
  );
`;

/**
 * The SQLite implementation over an open database whose tables exist ({@link PROJECTION_TABLES_SQL}).
 * Its `scratch()` tables are temporary tables of the same connection, made on first use.
 * @param key the log key, or undefined when the log was opened for inspection only (reads find nothing, writes throw)
 */
export function sqliteProjectionTables(db: Database.Database, key: KeyObject | undefined): ProjectionTables {
  let scratch: ProjectionTables | undefined;
  return tablesAt(db, key, { rows: 'projection_rows', heads: 'projection_heads', shared: true }, () => {
    if (!scratch) {
      db.exec(SCRATCH_TABLES_SQL);
      scratch = tablesAt(db, key, { rows: 'temp.scratch_rows', heads: 'temp.scratch_heads', shared: false }, () => scratch!);
    }
    return scratch;
  });
}

/** Projection tables at `place` (see {@link sqliteProjectionTables}); `scratch` gives the scratch tables. */
function tablesAt(db: Database.Database, key: KeyObject | undefined, place: Place, scratch: () => ProjectionTables): ProjectionTables {
  const { rows: ROWS, heads: HEADS, shared } = place;
  const getHead = db.prepare(`SELECT last_seq, version, mac FROM ${HEADS} WHERE name = ?`);
  const getRow = db.prepare(`SELECT key, kind, grp, ord, value, mac FROM ${ROWS} WHERE name = ? AND key = ?`);
  const putRow = db.prepare(
    `INSERT INTO ${ROWS} (name, key, kind, grp, ord, value, mac) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(name, key) DO UPDATE SET kind = excluded.kind, grp = excluded.grp, ord = excluded.ord, value = excluded.value, mac = excluded.mac`,
  );
  const deleteRow = db.prepare(`DELETE FROM ${ROWS} WHERE name = ? AND key = ?`);
  const putHead = db.prepare(
    `INSERT INTO ${HEADS} (name, last_seq, version, mac) VALUES (?, ?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET last_seq = excluded.last_seq, version = excluded.version, mac = excluded.mac`,
  );
  const listCache = new Map<string, Database.Statement>();

  const verified = (name: string, r: RowRecord): ProjectionRow => {
    const row = { key: r.key, value: r.value, kind: r.kind, group: r.grp, order: r.ord };
    return shared ? verifiedRow(key, name, row, r.mac) : row;
  };
  const where = (name: string, q: ProjectionRowQuery): { sql: string; params: unknown[] } => {
    const parts = ['name = ?'];
    const params: unknown[] = [name];
    if (q.kinds) (parts.push(`kind IN (${q.kinds.map(() => '?').join(',') || 'NULL'})`), params.push(...q.kinds));
    if (q.group !== undefined) (parts.push('grp = ?'), params.push(q.group));
    // A key range (not LIKE) so the primary key finds the prefix without a scan.
    if (q.keyPrefix !== undefined) (parts.push('key >= ? AND key < ?'), params.push(q.keyPrefix, `${q.keyPrefix}\u{10FFFF}`));
    if (q.beforeOrder !== undefined) (parts.push('ord < ?'), params.push(q.beforeOrder));
    if (q.byKey && q.afterKey !== undefined) (parts.push('key > ?'), params.push(q.afterKey));
    return { sql: parts.join(' AND '), params };
  };
  // Without statistics SQLite answers `kind IN (a, b) ORDER BY ord` by walking every row of the
  // projection in order (to avoid a sort); the few rows of the named kinds or group, sorted, cost less.
  const indexFor = (q: ProjectionRowQuery): string =>
    q.byKey || !shared ? '' : q.kinds ? ' INDEXED BY projection_rows_by_kind' : q.group !== undefined ? ' INDEXED BY projection_rows_by_group' : '';
  const prepared = (sql: string) => {
    let st = listCache.get(sql);
    if (!st) listCache.set(sql, (st = db.prepare(sql)));
    return st;
  };

  const reader = (name: string): ProjectionReader => ({
    head() {
      const r = getHead.get(name) as { last_seq: number; version: string; mac: string } | undefined;
      if (!r || !key) return undefined;
      const head = { lastSeq: r.last_seq, version: r.version };
      return shared ? verifiedHead(key, name, head, r.mac) : head;
    },
    get(k) {
      if (!key) return undefined;
      const r = getRow.get(name, k) as RowRecord | undefined;
      return r && verified(name, r);
    },
    getMany(keys) {
      // A local file: one indexed lookup each costs less than building a statement per size.
      if (!key) return [];
      return keys.flatMap((k) => {
        const r = getRow.get(name, k) as RowRecord | undefined;
        return r ? [verified(name, r)] : [];
      });
    },
    list(q = {}) {
      if (!key) return [];
      const w = where(name, q);
      const order = q.byKey ? 'key ASC' : 'ord DESC';
      const limit = q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
      return (prepared(`SELECT key, kind, grp, ord, value, mac FROM ${ROWS}${indexFor(q)} WHERE ${w.sql} ORDER BY ${order}${limit}`).all(...w.params) as RowRecord[]).map((r) => verified(name, r));
    },
    count(q = {}) {
      if (!key) return 0;
      const w = where(name, q);
      return (prepared(`SELECT count(*) AS n FROM ${ROWS} WHERE ${w.sql}`).get(...w.params) as { n: number }).n;
    },
  });

  return {
    reader,
    write(name, fn) {
      if (!key) throw new InternalError('the event log was opened for inspection only; refusing to write projections');
      const r = reader(name);
      const w: ProjectionWriter = {
        ...r,
        put(input) {
          const row = { ...input, order: Math.floor(input.order) };
          putRow.run(name, row.key, row.kind, row.group, row.order, row.value, shared ? projectionRowMac(key, name, row) : '');
        },
        delete(k) {
          deleteRow.run(name, k);
        },
        clear() {
          db.prepare(`DELETE FROM ${ROWS} WHERE name = ?`).run(name);
          db.prepare(`DELETE FROM ${HEADS} WHERE name = ?`).run(name);
        },
        setHead(h) {
          putHead.run(name, h.lastSeq, h.version, shared ? projectionHeadMac(key, name, h) : '');
        },
      };
      return db.transaction(() => fn(w)).immediate();
    },
    names() {
      return (db.prepare(`SELECT name FROM ${HEADS} ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    },
    // A deferred transaction reads one snapshot of the WAL (writers go on; they are not seen).
    snapshot: (fn) => db.transaction(fn).deferred(),
    scratch,
  };
}
