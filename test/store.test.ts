import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../src/core/paths.js';
import { verifyChain } from '../src/evidence/events.js';
import { openStore, type StoreTarget } from '../src/evidence/openStore.js';
import { openEventStore, type EventStore } from '../src/evidence/store.js';
import type { LogAuth } from '../src/evidence/logAuth.js';
import { cleanup, tempDir } from './helpers.js';
import { pgStoreFixture, startPg, type PgServer } from './pg.js';

afterEach(cleanup);

const ev = (n: number, key?: string) => ({ type: 'agent.message' as const, runId: 'r1', project: 'p', payload: { text: `m${n}`, severity: String(n) }, ...(key ? { key } : {}) });

describe('event store (real SQLite file)', () => {
  it('appends in order with a verifiable hash chain and survives reopening', () => {
    const file = join(tempDir(), 'a.db');
    const store = openEventStore(file);
    store.append([ev(1), ev(2)]);
    store.append(ev(3));
    store.close();
    const again = openEventStore(file);
    const events = again.query();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[2]!.payload).toEqual({ text: 'm3', severity: '3' });
    expect(verifyChain(events, again.auth!)).toMatchObject({ ok: true, checked: 3, firstKeyedSeq: 1 });
    expect(again.headSeq()).toBe(3);
    again.close();
  });

  it('is idempotent on the key', () => {
    const store = openEventStore(join(tempDir(), 'a.db'));
    const [first] = store.append(ev(1, 'k1'));
    const [second] = store.append(ev(1, 'k1'));
    expect(second!.seq).toBe(first!.seq);
    expect(store.query()).toHaveLength(1);
    store.close();
  });

  it('refuses UPDATE, DELETE, REPLACE INTO, INSERT OR REPLACE and UPSERT on events', () => {
    const file = join(tempDir(), 'a.db');
    const store = openEventStore(file);
    store.append([ev(1, 'k1'), ev(2, 'k2')]);
    store.close();
    const db = new Database(file);
    const row = db.prepare('SELECT * FROM events WHERE seq = 1').get() as Record<string, unknown>;
    const cols = Object.keys(row).join(', ');
    const vals = Object.keys(row).map((k) => `@${k}`).join(', ');
    expect(() => db.prepare("UPDATE events SET payload = '{}' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM events WHERE seq = 2').run()).toThrow(/append-only/);
    expect(() => db.prepare(`REPLACE INTO events (${cols}) VALUES (${vals})`).run(row)).toThrow(/append-only/);
    expect(() => db.prepare(`INSERT OR REPLACE INTO events (${cols}) VALUES (${vals})`).run(row)).toThrow(/append-only/);
    expect(() => db.prepare(`INSERT INTO events (${cols}) VALUES (${vals}) ON CONFLICT(seq) DO UPDATE SET payload = '{}'`).run(row)).toThrow(/append-only/);
    expect((db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n).toBe(2);
    db.close();
  });

  it('verifyChain names the first tampered event', () => {
    const file = join(tempDir(), 'a.db');
    const store = openEventStore(file);
    store.append([ev(1), ev(2), ev(3)]);
    const events = store.query();
    const auth = store.auth!;
    store.close();
    const tampered = events.map((e) => (e.seq === 2 ? { ...e, payload: { text: 'forged', severity: '2' } } : e));
    expect(verifyChain(tampered, auth)).toMatchObject({ ok: false, firstBadSeq: 2 });
    expect(verifyChain([events[0]!, events[2]!], auth)).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  it('applies migrations once (reopen is a no-op)', () => {
    const file = join(tempDir(), 'a.db');
    openEventStore(file).close();
    openEventStore(file).close();
    const db = new Database(file);
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});

/** A backend under test: opens (and reopens) one fresh log. */
interface Backend {
  name: string;
  fresh(): Promise<() => EventStore & { auth: LogAuth | undefined }>;
}

let server: PgServer | undefined;
beforeAll(async () => {
  server = await startPg();
});
afterAll(async () => server?.stop());

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    async fresh() {
      const file = join(tempDir(), 'a.db');
      return () => openEventStore(file);
    },
  },
  {
    name: 'PostgreSQL',
    async fresh() {
      const f = await pgStoreFixture(server!, join(tempDir(), 'home'));
      const target: StoreTarget = { kind: 'postgres', url: f.url };
      return () => openStore(target, homePaths(f.home), f.env) as EventStore & { auth: LogAuth | undefined };
    },
  },
];

describe.each(BACKENDS)('the EventStore contract on $name', (backend) => {
  it('appends in order with a verifiable hash chain and survives reopening', async () => {
    const open = await backend.fresh();
    const store = open();
    expect(store.headSeq()).toBe(0);
    store.append([ev(1), ev(2)]);
    store.append(ev(3));
    store.close();
    const again = open();
    const events = again.query();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[2]!.payload).toEqual({ text: 'm3', severity: '3' });
    expect(verifyChain(events, again.auth!)).toMatchObject({ ok: true, checked: 3, firstKeyedSeq: 1 });
    expect(again.headSeq()).toBe(3);
    again.close();
  });

  it('is idempotent on the key, within a batch and across appends', async () => {
    const store = (await backend.fresh())();
    const [first] = store.append(ev(1, 'k1'));
    const again = store.append([ev(1, 'k1'), ev(2, 'k2'), ev(2, 'k2')]);
    expect(again.map((e) => e.seq)).toEqual([first!.seq, 2, 2]);
    expect(store.query()).toHaveLength(2);
    store.close();
  });

  it('queries by run, project, types, afterSeq and limit', async () => {
    const store = (await backend.fresh())();
    store.append([ev(1), { ...ev(2), runId: 'r2' }, { ...ev(3), project: 'q' }, { type: 'run.merged' as const, runId: 'r1', project: 'p', payload: { mergeSha: 'abc', baseBranch: 'main', by: 'me', host: null, auto: false, strategy: 'merge' as const } }]);
    expect(store.query({ runId: 'r2' }).map((e) => e.seq)).toEqual([2]);
    expect(store.query({ project: 'q' }).map((e) => e.seq)).toEqual([3]);
    expect(store.query({ types: ['run.merged'] }).map((e) => e.seq)).toEqual([4]);
    expect(store.query({ afterSeq: 2, limit: 1 }).map((e) => e.seq)).toEqual([3]);
    expect(store.query({ project: 'p', runId: 'r1', types: ['agent.message', 'run.merged'] }).map((e) => e.seq)).toEqual([1, 4]);
    store.close();
  });

  it('newest N of a selection (in sequence order), and a project with the global events', async () => {
    const store = (await backend.fresh())();
    store.append([ev(1), { ...ev(2), project: 'q' }, ev(3), { type: 'system.halted' as const, payload: { by: 'me', host: null, reason: 'stop' } }, ev(5), { ...ev(6), project: 'q' }]);
    expect(store.query({ newest: 2 }).map((e) => e.seq)).toEqual([5, 6]);
    expect(store.query({ project: 'p', newest: 2 }).map((e) => e.seq)).toEqual([3, 5]);
    expect(store.query({ project: 'p', withGlobal: true }).map((e) => e.seq)).toEqual([1, 3, 4, 5]);
    expect(store.query({ project: 'p', withGlobal: true, newest: 3 }).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(store.query({ project: 'q', newest: 10 }).map((e) => e.seq)).toEqual([2, 6]);
    store.close();
  });

  it('verifyChain names the first tampered event', async () => {
    const store = (await backend.fresh())();
    store.append([ev(1), ev(2), ev(3)]);
    const events = store.query();
    const auth = store.auth!;
    store.close();
    const tampered = events.map((e) => (e.seq === 2 ? { ...e, payload: { text: 'forged', n: 2 } } : e));
    expect(verifyChain(tampered, auth)).toMatchObject({ ok: false, firstBadSeq: 2 });
    expect(verifyChain([events[0]!, events[2]!], auth)).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  it('saves projection snapshots authenticated, never moving one backwards unless the rules changed', async () => {
    const open = await backend.fresh();
    const store = open();
    expect(store.loadProjection('trust:p')).toBeUndefined();
    store.saveProjection({ name: 'trust:p', lastSeq: 5, rulesHash: 'h1', state: '{"a":5}' });
    store.saveProjection({ name: 'trust:p', lastSeq: 3, rulesHash: 'h1', state: '{"a":3}' });
    expect(store.loadProjection('trust:p')).toEqual({ name: 'trust:p', lastSeq: 5, rulesHash: 'h1', state: '{"a":5}' });
    store.saveProjection({ name: 'trust:p', lastSeq: 3, rulesHash: 'h2', state: '{"b":3}' });
    store.close();
    const reopened = open();
    expect(reopened.loadProjection('trust:p')).toEqual({ name: 'trust:p', lastSeq: 3, rulesHash: 'h2', state: '{"b":3}' });
    reopened.close();
  });
});
