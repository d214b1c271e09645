/**
 * Persisted row projections on the PostgreSQL store (real server, test/pg.ts): the same property as the
 * SQLite store's (incremental == a fold from zero == a rebuild, the store reopened between chunks), rows
 * and heads edited by a writer detected, a write holding appends back, two processes advancing a
 * projection at once folding each event once, hostile row keys stored as they are, and the upgrade of a
 * store made with the previous schema version.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { homePaths } from '../src/core/paths.js';
import { verifyChain } from '../src/evidence/events.js';
import { openStore } from '../src/evidence/openStore.js';
import type { PgEventStore } from '../src/evidence/pg/pgStore.js';
import { keyToHex } from '../src/evidence/pg/projections.js';
import { requestRows } from '../src/evidence/projectionCatalog.js';
import type { RunView } from '../src/evidence/projections/runs.js';
import { paging } from '../src/evidence/projectionSync.js';
import { getRun, listRuns } from '../src/evidence/runsStore.js';
import { ROOT, agentctl, cleanup, tempDir } from './helpers.js';
import { pgStoreFixture, startPg, type PgServer, type PgStoreFixture } from './pg.js';
import { eventOf, fromZero, history, incrementalAgrees, persisted, step, type Step } from './support/projectionHistory.js';

const defaultPage = paging.events;
beforeEach(() => void (paging.events = defaultPage));
afterEach(() => void (paging.events = defaultPage));

const run1 = { run: 1, project: 'p', agent: 'claude', taskType: 'docs', n: 1 } as const;
const at = (kind: Step['kind'], over: Partial<Step> = {}) => eventOf({ ...run1, kind, ...over });

describe('persisted projections on PostgreSQL (real server)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(cleanup);

  const fixture = () => pgStoreFixture(server, join(tempDir(), 'home'));
  const open = (f: PgStoreFixture) => openStore({ kind: 'postgres', url: f.url }, homePaths(f.home), f.env) as PgEventStore;
  const rowCount = (f: PgStoreFixture, name: string) => Number(server.psql(`SELECT count(*) FROM agentctl.projection_rows WHERE name = '${name}'`, f.database).trim());
  const child = (f: PgStoreFixture, script: string, args: string[], env: Record<string, string> = {}) => {
    const file = join(tempDir(), script);
    copyFileSync(join(ROOT, 'test', 'fixtures', script), file);
    return { file, env: { ...process.env, ...f.env, AGENTCTL_DIST: join(ROOT, 'dist'), ...env }, args };
  };

  it('incremental (store reopened between chunks, pages smaller than chunks) == a fold from zero == a rebuild (property)', async () => {
    await fc.assert(
      fc.asyncProperty(...history, async (steps, cuts, page) => {
        const f = await fixture();
        incrementalAgrees(() => open(f), steps, cuts, page);
        // Persisted in the database (read here over another connection), up to the last event.
        expect(server.psql(`SELECT last_seq FROM agentctl.projection_heads WHERE name = 'runs:p'`, f.database).trim()).toBe(String(steps.length));
      }),
      { numRuns: 12 },
    );
  }, 300_000);

  it('a row or head edited by the writer role fails authentication and the projection is rebuilt from the log', async () => {
    const f = await fixture();
    const store = open(f);
    try {
      store.append([at('run.planned'), at('run.discarded'), at('run.planned', { project: 'q' })]);
      expect(getRun(store, 'p', 'p-run-1')!.state).toBe('discarded');
      expect(getRun(store, 'q', 'q-run-1')!.state).toBe('planned');
      // Every team machine holds the writer's credentials: it may UPDATE rows, but not compute their codes.
      const forged: RunView = { ...getRun(store, 'p', 'p-run-1')!, state: 'awaiting_review', sandboxLive: true };
      store.session.query(`UPDATE agentctl.projection_rows SET value = $1, kind = 'awaiting_review', grp = 'review' WHERE name = 'runs:p'`, [JSON.stringify(forged)]);
      expect(listRuns(store, 'p', { group: 'review' }).runs).toEqual([]);
      expect(getRun(store, 'p', 'p-run-1')!.state).toBe('discarded');
      // A row copied whole (with its code) from another projection: the code binds the projection's name.
      store.session.query(`INSERT INTO agentctl.projection_rows (name, key, value, kind, grp, ord, mac) SELECT 'runs:p', key, value, kind, grp, ord + 100, mac FROM agentctl.projection_rows WHERE name = 'runs:q'`);
      expect(listRuns(store, 'p').runs.map((r) => r.runId)).toEqual(['p-run-1']);
      // A head moved back without the key would fold events twice (two tool calls counted four times): refused.
      store.append([1, 2].map(() => at('tool.called')));
      expect(getRun(store, 'p', 'p-run-1')!.toolCalls).toBe(2);
      store.session.query(`UPDATE agentctl.projection_heads SET last_seq = 2 WHERE name = 'runs:p'`);
      store.append(at('tool.called'));
      expect(getRun(store, 'p', 'p-run-1')!.toolCalls).toBe(3);
    } finally {
      store.close();
    }
  });

  it('a write holds appends back until it ends, and a failing one leaves nothing', async () => {
    const f = await fixture();
    const store = open(f);
    const appender = child(f, 'pg-append.mjs', ['9', '1'], { PGOPTIONS: '-c lock_timeout=300' });
    const append = () => spawnSync(process.execPath, [appender.file, ...appender.args], { env: appender.env, encoding: 'utf8' });
    try {
      const tables = store.projections();
      const during = tables.write('x', (w) => {
        w.setHead({ lastSeq: 0, version: 'v' });
        return append();
      });
      expect(during.status, during.stderr).not.toBe(0);
      expect(during.stderr).toMatch(/lock timeout/);
      expect(append().status).toBe(0); // the same append once the write is over
      expect(() =>
        tables.write('x', (w) => {
          w.put({ key: 'k', value: '1', kind: 'a', group: null, order: 1 });
          w.setHead({ lastSeq: 5, version: 'v' });
          expect(w.get('k')?.value).toBe('1'); // reads inside see the write's own rows
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(tables.reader('x').get('k')).toBeUndefined();
      expect(tables.reader('x').head()).toEqual({ lastSeq: 0, version: 'v' });
      expect(rowCount(f, 'x')).toBe(0);
      store.append(at('run.planned')); // the connection is usable after the rollback
      expect(store.headSeq()).toBe(2);
    } finally {
      store.close();
    }
  });

  it('two processes advancing the same projection at once fold each event exactly once', async () => {
    const f = await fixture();
    const seed = open(f);
    seed.append(fc.sample(step, { numRuns: 400, seed: 7 }).map((s) => eventOf({ ...s, project: 'p' })));
    seed.close();
    const codes = await Promise.all(
      ['0', '1'].map((w) => {
        const c = child(f, 'pg-fold.mjs', [w, '30', '7']);
        return new Promise<string>((resolve) => {
          const p = spawn(process.execPath, [c.file, ...c.args], { env: c.env, stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          p.stderr.on('data', (d: Buffer) => (err += d.toString()));
          p.on('close', (code) => resolve(`${code} ${err}`));
        });
      }),
    );
    expect(codes).toEqual(['0 ', '0 ']);
    const store = open(f);
    try {
      const events = store.query();
      expect(events).toHaveLength(460);
      expect(verifyChain(events, store.auth!).ok).toBe(true);
      expect(persisted(store, 'p')).toEqual(fromZero(events, 'p'));
    } finally {
      store.close();
    }
  }, 120_000);

  it('list reads of many rows use the indexes: newest first, by group, by kind, by key prefix', async () => {
    const f = await fixture();
    const store = open(f);
    try {
      for (let i = 0; i < 3000; i += 1000) {
        store.append(Array.from({ length: 1000 }, (_, k) => ({ ...at('run.planned'), runId: `r${String(i + k).padStart(5, '0')}` })));
      }
      store.append([10, 11, 12].map((k) => ({ ...at('run.discarded'), runId: `r${String(k).padStart(5, '0')}` })));
      expect(listRuns(store, 'p', { states: ['discarded'] }).runs.map((r) => r.runId)).toEqual(['r00012', 'r00011', 'r00010']);
      const page = listRuns(store, 'p', { limit: 20 });
      expect(page.runs.map((r) => r.runId)).toEqual(Array.from({ length: 20 }, (_, k) => `r${String(2999 - k).padStart(5, '0')}`));
      expect(rowCount(f, 'runs:p')).toBe(3000);
    } finally {
      store.close();
    }
    server.psql('ANALYZE agentctl.projection_rows', f.database);
    // The statements projections.ts sends (as the planner sees them, parameters inlined).
    const plan = (where: string, order = 'ord DESC') => server.psql(`EXPLAIN SELECT encode(key, 'hex') AS key, value, kind, grp, ord, mac FROM agentctl.projection_rows WHERE name = 'runs:p' AND ${where} ORDER BY ${order} LIMIT 21`, f.database);
    expect(plan('true')).toMatch(/Index Scan using projection_rows_by_order/);
    expect(plan("grp = 'review'")).toMatch(/Index Scan using projection_rows_by_group/);
    expect(plan("kind = ANY('{discarded}'::text[])")).toMatch(/Index Scan using projection_rows_by_kind/);
    expect(plan(`key >= decode('${keyToHex('r0001')}', 'hex') AND key < decode('${keyToHex('r0002')}', 'hex')`, 'key ASC')).toMatch(/Index Scan using projection_rows_pkey/);
    for (const p of [plan('true'), plan("grp = 'review'")]) expect(p).not.toMatch(/Seq Scan|Sort/);
  });

  it("row keys an agent chose (a follow-up id with NUL or a lone surrogate) are stored and read back as they are", async () => {
    const f = await fixture();
    const ids = ['a\u0000b', '\ud800', 'follow-1', '\u{1F600}'];
    let store = open(f);
    try {
      store.append(ids.map((id) => ({ ...at('task.requested'), payload: { id, title: 't', parentRun: 'p-run-1', parentTask: 't1', parentProfiles: [] } }) as ReturnType<typeof at>));
      expect(requestRows(store, 'p').map((r) => r.payload.id).sort()).toEqual([...ids].sort());
    } finally {
      store.close();
    }
    expect(rowCount(f, 'requests:p')).toBe(4);
    store = open(f);
    try {
      expect(requestRows(store, 'p').map((r) => r.payload.id).sort()).toEqual([...ids].sort());
      expect(store.projections().reader('requests:p').list({ keyPrefix: 'id:a\u0000' }).map((r) => r.key)).toEqual(['id:a\u0000b']);
    } finally {
      store.close();
    }
  });

  it('a store made with the previous schema version is refused until `agentctl store init` upgrades it, then keeps its rows', async () => {
    const f = await fixture();
    const store = open(f);
    store.append([at('run.planned'), at('tool.called')]);
    store.close();
    // The store as schema version 1 left it: no projection tables, migration 2 not recorded.
    server.psql('DROP TABLE agentctl.projection_rows, agentctl.projection_heads; DELETE FROM agentctl.schema_migrations WHERE version = 2', f.database);
    expect(() => open(f)).toThrow(/has schema version 1; this agentctl needs 2/);
    const init = await agentctl(ROOT, f.home, ['store', 'init', '--admin-url', server.url(f.database), '--writer', 'agentctl_writer', '--json']);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ roleCreated: false, applied: [expect.stringMatching(/row projections/)] });
    const grants = (table: string) =>
      server.psql(`SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants WHERE grantee = 'agentctl_writer' AND table_name = '${table}'`, f.database).trim();
    expect(grants('projection_rows')).toBe('DELETE,INSERT,SELECT,UPDATE');
    expect(grants('projection_heads')).toBe('DELETE,INSERT,SELECT,UPDATE');
    expect(grants('events')).toBe('INSERT,SELECT');
    const again = open(f);
    try {
      expect(getRun(again, 'p', 'p-run-1')!.toolCalls).toBe(1);
      expect(rowCount(f, 'runs:p')).toBe(1);
      expect(again.query()).toHaveLength(2);
    } finally {
      again.close();
    }
    const verify = await agentctl(ROOT, f.home, ['audit', 'verify', '--json'], f.env);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, events: 2 });
  });
});
