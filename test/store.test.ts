import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../src/evidence/events.js';
import { openEventStore } from '../src/evidence/store.js';
import { cleanup, tempDir } from './helpers.js';

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
