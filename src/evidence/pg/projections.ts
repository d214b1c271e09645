/**
 * Row projections in the PostgreSQL store (see projectionTables.ts for the interface; the SQLite one is
 * projectionStore.ts, whose authentication codes these rows carry too): `agentctl.projection_rows` and
 * `agentctl.projection_heads` (schema.ts, migration 2).
 *
 * A write is one transaction that first locks the log's head row, exactly as an append does (pgStore.ts),
 * so appends wait for it and two processes advancing a projection take turns; under READ COMMITTED each of
 * its statements then sees the latest committed log. Puts, deletes and the head are buffered and sent in
 * as few statements as possible (one upsert of many rows), flushed before any read and with the COMMIT:
 * a page of 5,000 events costs a handful of round trips to the worker, not one per row.
 */
import type { KeyObject } from 'node:crypto';
import { InternalError } from '../../core/errors.js';
import { projectionHeadMac, projectionRowMac, verifiedHead, verifiedRow } from '../projectionStore.js';
import type { ProjectionHead, ProjectionReader, ProjectionRow, ProjectionRowQuery, ProjectionTables, ProjectionWriter } from '../projectionTables.js';
import { SCHEMA } from './schema.js';
import type { PgSession } from './session.js';

type Statement = { sql: string; params?: readonly unknown[] };

const ROWS = `${SCHEMA}.projection_rows`;
const HEADS = `${SCHEMA}.projection_heads`;
/** Rows per upsert statement: bounds one statement's size (values may be kilobytes each). */
const PUT_CHUNK = 1_000;

/** A key as stored: its UTF-16BE code units, in hex (the column is bytea; schema.ts says why). */
export function keyToHex(key: string): string {
  const b = Buffer.from(key, 'utf16le');
  b.swap16();
  return b.toString('hex');
}

/** The inverse of {@link keyToHex}. */
export function keyFromHex(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  b.swap16();
  return b.toString('utf16le');
}

/** The smallest byte string above every string that starts with `hex` (undefined: none, all bytes were ff). */
function afterPrefix(hex: string): string | undefined {
  const b = [...Buffer.from(hex, 'hex')];
  while (b.length && b.at(-1) === 0xff) b.pop();
  if (!b.length) return undefined;
  b[b.length - 1]!++;
  return Buffer.from(b).toString('hex');
}

interface RowRecord {
  key: string;
  value: string;
  kind: string | null;
  grp: string | null;
  ord: number;
  mac: string;
}

const SELECT_ROW = `SELECT encode(key, 'hex') AS key, value, kind, grp, ord, mac FROM ${ROWS}`;

/** WHERE clause and parameters of a row query. */
function where(name: string, q: ProjectionRowQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [name];
  const p = (v: unknown) => `$${params.push(v)}`;
  const parts = [`name = $1`];
  if (q.kinds) parts.push(`kind = ANY(${p([...q.kinds])}::text[])`);
  if (q.group !== undefined) parts.push(`grp = ${p(q.group)}`);
  if (q.keyPrefix !== undefined) {
    const from = keyToHex(q.keyPrefix);
    const to = afterPrefix(from);
    parts.push(`key >= decode(${p(from)}, 'hex')`);
    if (to !== undefined) parts.push(`key < decode(${p(to)}, 'hex')`);
  }
  if (q.beforeOrder !== undefined) parts.push(`ord < ${p(Math.floor(q.beforeOrder))}`);
  if (q.byKey && q.afterKey !== undefined) parts.push(`key > decode(${p(keyToHex(q.afterKey))}, 'hex')`);
  return { sql: parts.join(' AND '), params };
}

/** The writes of one transaction not yet sent. */
interface Pending {
  name: string;
  cleared: boolean;
  rows: Map<string, ProjectionRow | null>;
  head: ProjectionHead | undefined;
}

/** Statements applying `p` (and emptying it). */
function flushStatements(key: KeyObject, p: Pending): Statement[] {
  const out: Statement[] = [];
  if (p.cleared) {
    out.push({ sql: `DELETE FROM ${ROWS} WHERE name = $1`, params: [p.name] }, { sql: `DELETE FROM ${HEADS} WHERE name = $1`, params: [p.name] });
  }
  const deletes = [...p.rows].flatMap(([k, r]) => (r === null ? [keyToHex(k)] : []));
  if (deletes.length) out.push({ sql: `DELETE FROM ${ROWS} WHERE name = $1 AND key IN (SELECT decode(k, 'hex') FROM unnest($2::text[]) AS k)`, params: [p.name, deletes] });
  const puts = [...p.rows.values()].filter((r): r is ProjectionRow => r !== null);
  for (let i = 0; i < puts.length; i += PUT_CHUNK) {
    const chunk = puts.slice(i, i + PUT_CHUNK);
    // One statement for many rows; keys are unique within it (the map), as ON CONFLICT DO UPDATE requires.
    out.push({
      sql: `INSERT INTO ${ROWS} (name, key, value, kind, grp, ord, mac)
            SELECT $1, decode(k, 'hex'), v, kd, g, o, m FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) AS u(k, v, kd, g, o, m)
            ON CONFLICT (name, key) DO UPDATE SET value = excluded.value, kind = excluded.kind, grp = excluded.grp, ord = excluded.ord, mac = excluded.mac`,
      params: [
        p.name,
        chunk.map((r) => keyToHex(r.key)),
        chunk.map((r) => r.value),
        chunk.map((r) => r.kind),
        chunk.map((r) => r.group),
        chunk.map((r) => r.order),
        chunk.map((r) => projectionRowMac(key, p.name, r)),
      ],
    });
  }
  if (p.head) {
    out.push({
      sql: `INSERT INTO ${HEADS} (name, last_seq, version, mac) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq, version = excluded.version, mac = excluded.mac`,
      params: [p.name, p.head.lastSeq, p.head.version, projectionHeadMac(key, p.name, p.head)],
    });
  }
  p.cleared = false;
  p.rows.clear();
  p.head = undefined;
  return out;
}

/**
 * The PostgreSQL implementation over session `s` (its store's one connection; migration 2 applied).
 * @param key the team key, or undefined when the store was opened for inspection only (reads find nothing, writes throw)
 */
export function pgProjectionTables(s: PgSession, key: KeyObject | undefined): ProjectionTables {
  /** The writes of the transaction in progress, if any: sent before any read on this connection, so reads see them. */
  let active: Pending | undefined;

  /** Rows of `sql`, after the pending writes (in the same round trip). */
  const read = <T>(sql: string, params: readonly unknown[]): T[] => {
    const before = active && key ? flushStatements(key, active) : [];
    if (!before.length) return s.query<T>(sql, params);
    return s.batch([...before, { sql, params }]).at(-1) as T[];
  };

  const verified = (name: string, r: RowRecord): ProjectionRow =>
    verifiedRow(key, name, { key: keyFromHex(r.key), value: r.value, kind: r.kind, group: r.grp, order: Number(r.ord) }, r.mac);

  const reader = (name: string): ProjectionReader => ({
    head() {
      if (!key) return undefined;
      const [r] = read<{ last_seq: number; version: string; mac: string }>(`SELECT last_seq, version, mac FROM ${HEADS} WHERE name = $1`, [name]);
      return r && verifiedHead(key, name, { lastSeq: Number(r.last_seq), version: r.version }, r.mac);
    },
    get(k) {
      if (!key) return undefined;
      const [r] = read<RowRecord>(`${SELECT_ROW} WHERE name = $1 AND key = decode($2, 'hex')`, [name, keyToHex(k)]);
      return r && verified(name, r);
    },
    getMany(keys) {
      if (!key || !keys.length) return [];
      return read<RowRecord>(`${SELECT_ROW} WHERE name = $1 AND key IN (SELECT decode(k, 'hex') FROM unnest($2::text[]) AS k)`, [name, keys.map(keyToHex)]).map((r) => verified(name, r));
    },
    list(q = {}) {
      if (!key) return [];
      const w = where(name, q);
      const limit = q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
      return read<RowRecord>(`${SELECT_ROW} WHERE ${w.sql} ORDER BY ${q.byKey ? 'key ASC' : 'ord DESC'}${limit}`, w.params).map((r) => verified(name, r));
    },
    count(q = {}) {
      if (!key) return 0;
      const w = where(name, q);
      return Number(read<{ n: number }>(`SELECT count(*) AS n FROM ${ROWS} WHERE ${w.sql}`, w.params)[0]?.n ?? 0);
    },
  });

  const tables: ProjectionTables = {
    reader,
    // The shared tables: a rebuild's scratch rows are authenticated and named apart (`<name>~rebuild`).
    scratch: () => tables,
    snapshot: (fn) => s.snapshot(fn),
    write(name, fn) {
      if (!key) throw new InternalError('the event log was opened for inspection only; refusing to write projections');
      if (active) throw new InternalError('a projection write is already in progress on this connection');
      const pending: Pending = { name, cleared: false, rows: new Map(), head: undefined };
      const r = reader(name);
      const w: ProjectionWriter = {
        ...r,
        put(input) {
          pending.rows.set(input.key, { ...input, order: Math.floor(input.order) });
        },
        delete(k) {
          pending.rows.set(k, null);
        },
        clear() {
          pending.cleared = true;
          pending.rows.clear();
          pending.head = undefined;
        },
        setHead(h) {
          pending.head = { lastSeq: h.lastSeq, version: h.version };
        },
      };
      try {
        // The head row's lock is the append's (pgStore.ts): appends and other projection writers wait.
        s.batch([{ sql: 'BEGIN' }, { sql: `SELECT 1 FROM ${SCHEMA}.log_head WHERE id = 1 FOR UPDATE` }]);
        active = pending;
        const out = fn(w);
        active = undefined;
        s.batch([...flushStatements(key, pending), { sql: 'COMMIT' }]);
        return out;
      } catch (error) {
        active = undefined;
        try {
          s.query('ROLLBACK');
        } catch {
          // The connection may be gone; the server rolls back on its own then.
        }
        throw error;
      }
    },
    names() {
      return read<{ name: string }>(`SELECT name FROM ${HEADS} ORDER BY name COLLATE "C"`, []).map((r) => r.name);
    },
  };
  return tables;
}
