/**
 * Row 5: event append rate through agentctl's store (public `openEventStore(...).append` only) ÷ a raw
 * better-sqlite3 insert of the very same rows (read back from the store's file) into a table with the
 * same columns and indexes, with the same durability: WAL, synchronous=FULL, one IMMEDIATE transaction
 * per append. The raw side has no hashing, no triggers, no checkpoint file: the physical floor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventInput } from '../../src/evidence/events.js';
import { runEvents } from './events.js';
import { ROOT, type Dist } from './fixtures.js';
import { median, progress } from './measure.js';
import { times, type Row } from './report.js';

type DB = import('better-sqlite3').Database;
const require = createRequire(`${ROOT}/package.json`);
const Database = require('better-sqlite3') as typeof import('better-sqlite3');

/** Events per batched append, appends per batched round, appends per one-at-a-time round. */
const BATCH = 500;
const BATCHES = 20;
const SINGLES = 200;

function input(n: number): EventInput[] {
  const out: EventInput[] = [];
  for (let i = 0; out.length < n; i++) out.push(...runEvents(i, 100_000, Date.now(), '/home/dev/src/bench'));
  return out.slice(0, n);
}

/** Append `events` through the store in `size` chunks, then close it; returns events per second and the stored rows. */
function throughStore(dist: Dist, dir: string, events: EventInput[], size: number): { rate: number; rows: Record<string, unknown>[] } {
  const before = process.env.AGENTCTL_HOME;
  process.env.AGENTCTL_HOME = dir;
  try {
    const file = dist.paths.homePaths(dir).database;
    const store = dist.store.openEventStore(file);
    const start = performance.now();
    for (let i = 0; i < events.length; i += size) store.append(events.slice(i, i + size));
    // Timed too: close() writes the checkpoint the last appends left pending (CHECKPOINT_COALESCE_MS).
    store.close();
    const ms = performance.now() - start;
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT * FROM events ORDER BY seq').all() as Record<string, unknown>[];
    db.close();
    return { rate: (events.length * 1000) / ms, rows };
  } finally {
    if (before === undefined) delete process.env.AGENTCTL_HOME;
    else process.env.AGENTCTL_HOME = before;
  }
}

/** Insert `rows` raw in `size` chunks (same columns and indexes as the store's table); events per second. */
function raw(file: string, schemaFrom: string, rows: Record<string, unknown>[], size: number): number {
  const src = new Database(schemaFrom, { readonly: true });
  const ddl = (src.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC").all() as { sql: string }[]).map((r) => r.sql);
  src.close();
  const db: DB = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  for (const sql of ddl) db.exec(sql);
  const columns = Object.keys(rows[0]!);
  // Positional parameters, as the store binds them (named ones cost the anchor a little more per row).
  const values = rows.map((r) => columns.map((c) => r[c]));
  const insert = db.prepare(`INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const tx = db.transaction((chunk: unknown[][]) => {
    for (const v of chunk) insert.run(...v);
  });
  const start = performance.now();
  for (let i = 0; i < values.length; i += size) tx.immediate(values.slice(i, i + size));
  const ms = performance.now() - start;
  db.close();
  return (rows.length * 1000) / ms;
}

/** Row 5, `reps` rounds, each on fresh files, store and raw in turn. */
export function appendRows(dist: Dist, reps: number): Row[] {
  const batched = input(BATCH * BATCHES);
  const singles = input(SINGLES);
  const r = { sb: [] as number[], rb: [] as number[], ss: [] as number[], rs: [] as number[] };
  for (let i = 0; i < reps; i++) {
    progress(`row 5: append round ${i + 1}/${reps}`);
    const dir = mkdtempSync(join(tmpdir(), 'agentctl-bench-append-'));
    try {
      const b = throughStore(dist, join(dir, 'sb'), batched, BATCH);
      r.sb.push(b.rate);
      r.rb.push(raw(join(dir, 'rb.db'), join(dir, 'sb', 'agentctl.db'), b.rows, BATCH));
      const s = throughStore(dist, join(dir, 'ss'), singles, 1);
      r.ss.push(s.rate);
      r.rs.push(raw(join(dir, 'rs.db'), join(dir, 'ss', 'agentctl.db'), s.rows, 1));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const rate = (x: number) => `${Math.round(x).toLocaleString('en-US')} events/s`;
  const row = (what: string, store: number[], rawRates: number[]): Row => {
    const ratio = median(store) / median(rawRates);
    return { group: 5, figure: `append through the store, ${what}`, measured: `${rate(median(store))} (median of ${reps})`, anchor: `raw insert: ${rate(median(rawRates))}`, ratio: times(ratio), target: '≥ 0.6×', pass: ratio >= 0.6 };
  };
  const note = `Raw insert: the same rows (read back from the store's file, bound positionally as the store binds them) into a table with the same columns and indexes, WAL, synchronous=FULL, one IMMEDIATE transaction per append; no hashing, no checkpoint file, and none of the store's append-only triggers (its BEFORE INSERT trigger, one index probe per row, is part of the store's cost). Batched: ${BATCHES} appends of ${BATCH} events; one at a time: ${SINGLES} appends of 1 event.`;
  return [{ ...row(`batched (${BATCH} events per append)`, r.sb, r.rb), note }, row('one event per append', r.ss, r.rs)];
}
