/**
 * `npx vite-node test/bench/pg.ts` (after `npm run build`): the PostgreSQL store's costs on a throwaway
 * local server (test/pg.ts: Unix socket, fsync off, so commits cost no disk flush) beside the SQLite
 * store's on this machine's disk. Prints one line per figure. The append rates against a raw `pg` insert
 * and `promote --json` on a large team log are row 8 of `npm run bench` (rows-pg.ts, `BENCH_ONLY=pg`).
 *   - a round trip of `SELECT 1` through the async `pg` client, and through the synchronous worker bridge;
 *   - single-event appends per second (one transaction and one local checkpoint write each);
 *   - events per second in batches of 500; reading them back; opening the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ROOT } from '../helpers.js';
import { PG_MISSING, pgStoreFixture, startPg } from '../pg.js';

const N = Number(process.env.BENCH_PG_N ?? 500);
const dist = join(ROOT, 'dist');
const { openStore } = (await import(join(dist, 'evidence', 'openStore.js'))) as typeof import('../../src/evidence/openStore.js');
const { connectPg } = (await import(join(dist, 'evidence', 'pg', 'session.js'))) as typeof import('../../src/evidence/pg/session.js');
const { homePaths } = (await import(join(dist, 'core', 'paths.js'))) as typeof import('../../src/core/paths.js');

if (PG_MISSING) {
  console.log(`skipped: ${PG_MISSING}`);
  process.exit(0);
}
const ev = (i: number) => ({ type: 'tool.called' as const, runId: 'r', project: 'p', payload: { id: `t${i}`, tool: 'Bash', input: 'x'.repeat(200) } });
const per = (label: string, count: number, ms: number) => console.log(`${label}: ${((count / ms) * 1000).toFixed(0)}/s (${(ms / count).toFixed(3)} ms each)`);
const scratch = mkdtempSync(join(tmpdir(), 'agentctl-pgbench-'));
const server = await startPg();
try {
  const f = await pgStoreFixture(server, join(scratch, 'home'));
  const client = new pg.Client(f.url);
  await client.connect();
  let t = performance.now();
  for (let i = 0; i < N; i++) await client.query('SELECT 1');
  per('async pg client, SELECT 1', N, performance.now() - t);
  await client.end();
  const session = connectPg(f.url);
  t = performance.now();
  for (let i = 0; i < N; i++) session.query('SELECT 1');
  per('sync bridge (synckit worker), SELECT 1', N, performance.now() - t);
  session.close();

  t = performance.now();
  const store = openStore({ kind: 'postgres', url: f.url }, homePaths(f.home), f.env);
  console.log(`open (empty log): ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  for (let i = 0; i < N; i++) store.append(ev(i));
  per('PostgreSQL single-event appends', N, performance.now() - t);
  t = performance.now();
  for (let b = 0; b < 20; b++) store.append(Array.from({ length: 500 }, (_, i) => ev(i)));
  per('PostgreSQL events appended in batches of 500', 10_000, performance.now() - t);
  t = performance.now();
  const all = store.query({ project: 'p' });
  console.log(`query all ${all.length} events: ${(performance.now() - t).toFixed(0)} ms`);
  store.close();
  t = performance.now();
  openStore({ kind: 'postgres', url: f.url }, homePaths(f.home), f.env).close();
  console.log(`open (nothing new since this machine's checkpoint): ${(performance.now() - t).toFixed(0)} ms`);

  const sqliteHome = join(scratch, 'sqlite');
  const sqlite = openStore({ kind: 'sqlite', file: join(sqliteHome, 'agentctl.db') }, homePaths(sqliteHome), {});
  t = performance.now();
  for (let i = 0; i < N; i++) sqlite.append(ev(i));
  per('SQLite single-event appends (synchronous=FULL, for comparison)', N, performance.now() - t);
  sqlite.close();
} finally {
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}
