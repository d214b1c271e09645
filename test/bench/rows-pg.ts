/**
 * Row 8 (issue #12): the PostgreSQL store, against a real server the bench starts itself (test/pg.ts:
 * initdb + pg_ctl in a temp folder, Unix socket only, stopped at the end).
 *
 * - Append rate through agentctl's PostgreSQL store (public `openStore(...).append`, which validates,
 *   chains and authenticates each event, locks the head row and moves it, and updates this machine's
 *   checkpoint), batched (500 per append) and one at a time ÷ a raw `pg` insert of the very same rows
 *   (read back from the store) into a table with the same columns, constraints and indexes: one
 *   transaction per append, the same one-statement `unnest` INSERT the store sends, through the async
 *   `pg` client. The physical floor: no hashing, no head row, no triggers, no synchronous bridge.
 * - `promote --json` on a team log of BENCH_PG_EVENTS events ÷ the same on an empty team log (both
 *   through AGENTCTL_STORE, the first call on each untimed: it builds the saved projections).
 *
 * `BENCH_ONLY=pg npm run bench` measures only this row. Not part of `npm test`.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type * as OpenStoreModule from '../../src/evidence/openStore.js';
import type { EventInput } from '../../src/evidence/events.js';
import type { EventStore } from '../../src/evidence/store.js';
import { startPg, pgStoreFixture, type PgServer, type PgStoreFixture } from '../pg.js';
import { EVENTS_PER_RUN, promotions, runEvents } from './events.js';
import { BIN, ROOT, cliEnv, projectRepo, type Dist } from './fixtures.js';
import { median, progress, timed, type Sample } from './measure.js';
import { secs, times, type Row } from './report.js';

/** Events per batched append, appends per batched round, appends per one-at-a-time round (as row 5). */
const BATCH = 500;
const BATCHES = 20;
const SINGLES = 200;

const FAKE_REPO_ROOT = '/home/dev/src/bench';

/** The bench's generated run events, `n` of them. */
function input(n: number): EventInput[] {
  const out: EventInput[] = [];
  for (let i = 0; out.length < n; i++) out.push(...runEvents(i, 100_000, Date.now(), FAKE_REPO_ROOT));
  return out.slice(0, n);
}

async function openStoreModule(): Promise<typeof OpenStoreModule> {
  return (await import(pathToFileURL(join(ROOT, 'dist', 'evidence', 'openStore.js')).href)) as typeof OpenStoreModule;
}

/** The team store of fixture `f` (writer role), opened as a command opens it. */
function openTeamStore(os: typeof OpenStoreModule, dist: Dist, f: PgStoreFixture): EventStore {
  return os.openStore({ kind: 'postgres', url: f.url }, dist.paths.homePaths(f.home), f.env);
}

/** Columns of agentctl.events in the store's insert order, and their array types for unnest. */
const COLUMNS = ['seq', 'key', 'ts', 'type', 'version', 'run_id', 'task', 'agent', 'project', 'task_type', 'payload', 'prev_hash', 'hash'];
const TYPES = ['bigint', 'text', 'text', 'text', 'integer', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];

/**
 * Append `events` through a fresh team store in `size` chunks.
 * @returns events per second, and the stored rows (column → value) read back as the superuser
 */
async function throughStore(server: PgServer, os: typeof OpenStoreModule, dist: Dist, home: string, events: EventInput[], size: number): Promise<{ rate: number; rows: unknown[][]; database: string }> {
  const f = await pgStoreFixture(server, home);
  const store = openTeamStore(os, dist, f);
  const start = performance.now();
  for (let i = 0; i < events.length; i += size) store.append(events.slice(i, i + size));
  const ms = performance.now() - start;
  store.close();
  const admin = new pg.Client({ connectionString: server.url(f.database) });
  await admin.connect();
  try {
    const r = await admin.query({ text: `SELECT ${COLUMNS.join(', ')} FROM agentctl.events ORDER BY seq`, rowMode: 'array' });
    return { rate: (events.length * 1000) / ms, rows: r.rows as unknown[][], database: f.database };
  } finally {
    await admin.end();
  }
}

/** Insert `rows` raw into a copy of the events table (same columns, constraints, indexes) in `size` chunks; events per second. */
async function rawInsert(server: PgServer, database: string, rows: unknown[][], size: number): Promise<number> {
  const client = new pg.Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    await client.query('CREATE SCHEMA bench_raw; CREATE TABLE bench_raw.events (LIKE agentctl.events INCLUDING ALL)');
    const sql = `INSERT INTO bench_raw.events (${COLUMNS.join(', ')}) SELECT * FROM unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;
    const start = performance.now();
    for (let i = 0; i < rows.length; i += size) {
      const chunk = rows.slice(i, i + size);
      const cols = COLUMNS.map((_, c) => chunk.map((r) => r[c]));
      await client.query('BEGIN');
      await client.query({ name: 'bench_raw_insert', text: sql, values: cols });
      await client.query('COMMIT');
    }
    return (rows.length * 1000) / (performance.now() - start);
  } finally {
    await client.end();
  }
}

/** Fill a team store with about `events` events (runs of 10, plus 12 promotions) through the store, 100 runs per append. */
function fill(store: EventStore, events: number): number {
  const runs = Math.max(1, Math.round(events / EVENTS_PER_RUN));
  const endMs = Date.now() - 60_000;
  store.append(promotions(endMs - 366 * 24 * 3600 * 1000));
  for (let i = 0; i < runs; i += 100) {
    const batch: EventInput[] = [];
    for (let j = i; j < Math.min(runs, i + 100); j++) batch.push(...runEvents(j, runs, endMs, FAKE_REPO_ROOT));
    store.append(batch);
  }
  return store.headSeq();
}

/**
 * Row 8, measured in `work`.
 * @param reps rounds of the append figures, and samples of `promote --json` on each log
 * @param events events in the large team log (BENCH_PG_EVENTS)
 */
export async function pgRows(dist: Dist, work: string, reps: number, events: number): Promise<Row[]> {
  progress('row 8: starting a PostgreSQL server (test/pg.ts)');
  const server = await startPg();
  const os = await openStoreModule();
  const rows: Row[] = [];
  try {
    const batched = input(BATCH * BATCHES);
    const singles = input(SINGLES);
    const r = { sb: [] as number[], rb: [] as number[], ss: [] as number[], rs: [] as number[] };
    for (let i = 0; i < reps; i++) {
      progress(`row 8: PostgreSQL append round ${i + 1}/${reps}`);
      const dir = mkdtempSync(join(tmpdir(), 'agentctl-bench-pg-append-'));
      try {
        const b = await throughStore(server, os, dist, join(dir, 'b'), batched, BATCH);
        r.sb.push(b.rate);
        r.rb.push(await rawInsert(server, b.database, b.rows, BATCH));
        const s = await throughStore(server, os, dist, join(dir, 's'), singles, 1);
        r.ss.push(s.rate);
        r.rs.push(await rawInsert(server, s.database, s.rows, 1));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const rate = (x: number) => `${Math.round(x).toLocaleString('en-US')} events/s`;
    const appendRow = (what: string, store: number[], raw: number[], note?: string): Row => {
      const ratio = median(store) / median(raw);
      return { group: 8, figure: `PostgreSQL: append through the store, ${what}`, measured: `${rate(median(store))} (median of ${reps})`, anchor: `raw \`pg\` insert: ${rate(median(raw))}`, ratio: times(ratio), target: 'report', pass: undefined, ...(note ? { note } : {}) };
    };
    rows.push(
      appendRow(
        `batched (${BATCH} events per append)`,
        r.sb,
        r.rb,
        `A server the bench starts (test/pg.ts: Unix socket, fsync=off, so a commit costs no disk flush on either side). Raw \`pg\` insert: the same rows (read back from the store) into a table made with \`LIKE agentctl.events INCLUDING ALL\` (same columns, constraints, indexes; no triggers), one transaction per append with the store's own one-statement \`unnest\` INSERT, through the async \`pg\` client. The store also validates, chains and authenticates each event, locks and moves the head row, updates this machine's checkpoint file, and waits on its synchronous bridge (a worker thread) for each round trip. Batched: ${BATCHES} appends of ${BATCH} events; one at a time: ${SINGLES} appends of 1 event.`,
      ),
      appendRow('one event per append', r.ss, r.rs),
    );

    // promote --json on a large and an empty team log.
    progress(`row 8: filling a PostgreSQL team log of ~${events.toLocaleString('en-US')} events through the store`);
    const big = await pgStoreFixture(server, join(work, 'home-pg-big'));
    const empty = await pgStoreFixture(server, join(work, 'home-pg-empty'));
    const fillStart = performance.now();
    const store = openTeamStore(os, dist, big);
    let total: number;
    try {
      total = fill(store, events);
    } finally {
      store.close();
    }
    const fillMs = performance.now() - fillStart;
    progress(`  filled ${total.toLocaleString('en-US')} events in ${secs(fillMs)}`);
    mkdirSync(join(work, 'pg-project'), { recursive: true });
    const repo = projectRepo(join(work, 'pg-project', 'repo'));
    const promote = (f: PgStoreFixture) => () => timed(process.execPath, [BIN, 'promote', '--json'], { cwd: repo, env: { ...cliEnv(f.home), ...f.env }, keepStdout: 4096 });
    // First calls (untimed): each builds its saved projections.
    const firstBig = await promote(big)();
    await promote(empty)();
    const fig: Sample[] = [];
    const anc: Sample[] = [];
    for (let i = 0; i < reps; i++) {
      fig.push(await promote(big)());
      anc.push(await promote(empty)());
    }
    const bad = [...fig, ...anc].find((s) => s.code !== 0);
    const fw = median(fig.map((s) => s.wallMs));
    const aw = median(anc.map((s) => s.wallMs));
    rows.push({
      group: 8,
      figure: `PostgreSQL: \`promote --json\` on ${total.toLocaleString('en-US')} events: wall`,
      measured: `${secs(fw)} (median of ${reps})`,
      anchor: `empty team log: ${secs(aw)}`,
      ratio: times(fw / aw),
      target: 'report',
      pass: bad ? false : undefined,
      note: [
        `Team log filled through the store in ${secs(fillMs)} (${EVENTS_PER_RUN} events per run, 100 runs per append). Both logs through AGENTCTL_STORE (the writer role), each command's first call untimed (it built the saved projections: ${secs(firstBig.wallMs)} on the large log). BENCH_PG_EVENTS sets the size.`,
        bad ? `exit ${bad.code}: ${bad.stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 300)}` : undefined,
      ]
        .filter(Boolean)
        .join(' '),
    });
  } finally {
    await server.stop();
  }
  return rows;
}
