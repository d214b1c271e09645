/**
 * Logs written before log keys (plain sha256 chain, unauthenticated `{seq, hash}` checkpoint) still open
 * and verify; their first use keys them from the next sequence on, and the upgrade cannot be used to
 * pass forged events off as legacy ones.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/evidence/canonical.js';
import { MIGRATIONS } from '../src/evidence/migrations.js';
import { openEventStore } from '../src/evidence/store.js';
import { agentctl, cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

interface Legacy {
  seq: number;
  key: string;
  ts: string;
  type: string;
  payload: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The previous version's hash, written out here: sha256(prevHash + "\n" + canonical JSON of the fields). */
function oldHash(e: Omit<Legacy, 'hash'>): string {
  const body = canonicalJson({ seq: e.seq, key: e.key, ts: e.ts, type: e.type, version: 1, runId: 'run1', task: null, agent: 'command', project: 'p', taskType: 'docs', payload: e.payload });
  return createHash('sha256').update(`${e.prevHash}\n${body}`).digest('hex');
}

function insertOld(db: Database.Database, e: Legacy): void {
  db.prepare(
    `INSERT INTO events (seq, key, ts, type, version, run_id, task, agent, project, task_type, payload, prev_hash, hash)
     VALUES (?, ?, ?, ?, 1, 'run1', NULL, 'command', 'p', 'docs', ?, ?, ?)`,
  ).run(e.seq, e.key, e.ts, e.type, canonicalJson(e.payload), e.prevHash, e.hash);
}

/** Chain events the old way from `prev`. */
function chainOld(specs: { type: string; payload: Record<string, unknown> }[], from = 1, prev = '0'.repeat(64)): Legacy[] {
  return specs.map((s, i) => {
    const e = { seq: from + i, key: `old-${from + i}`, ts: `2026-11-0${1 + (i % 9)}T10:00:00.000Z`, type: s.type, payload: s.payload, prevHash: prev };
    const full = { ...e, hash: oldHash(e) };
    prev = full.hash;
    return full;
  });
}

const SPECS = [1, 2, 3, 4, 5, 6].map((i) => (i === 3 ? { type: 'scope.violation', payload: { path: '.env' } } : { type: 'agent.message', payload: { text: `old ${i}` } }));

/** A log exactly as the previous version left it: migrations 1–2, six sha256-chained events, a `{seq, hash}` checkpoint, no key. */
function legacyLog() {
  const home = tempDir();
  const file = join(home, 'agentctl.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.slice(0, 2)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-11-01T00:00:00.000Z');
  }
  const events = chainOld(SPECS);
  for (const e of events) insertOld(db, e);
  db.close();
  writeFileSync(`${file}.checkpoint`, JSON.stringify({ seq: 6, hash: events[5]!.hash }) + '\n');
  return { home, file, keyFile: join(home, 'keys', 'log.key'), events };
}

async function verify(home: string) {
  const r = await agentctl(tempDir(), home, ['audit', 'verify', '--json']);
  return { code: r.code, report: JSON.parse(r.stdout) };
}

/** Key the legacy log the way any command does, and append two events after it. */
function upgrade(file: string) {
  const store = openEventStore(file);
  store.append([{ type: 'agent.message', runId: 'run1', project: 'p', payload: { text: 'new 7' } }, { type: 'agent.message', runId: 'run1', project: 'p', payload: { text: 'new 8' } }]);
  const auth = store.auth!;
  store.close();
  return auth;
}

describe('upgrading a legacy (sha256) log', () => {
  it('a legacy log verifies, unauthenticated, and verification does not key it', async () => {
    const { home, keyFile } = legacyLog();
    const { code, report } = await verify(home);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, events: 6, authenticated: false, keyPresent: false, legacyEvents: 6, checkpoint: { seq: 6 } });
    const text = await agentctl(tempDir(), home, ['audit', 'verify']);
    expect(text.stdout).toMatch(/NOT authenticated/);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('its first use creates the key and keys it from the next sequence; it then verifies authenticated', async () => {
    const { home, file, keyFile } = legacyLog();
    // Any command keys it: here `resume` (refused, nothing to resume, but it opened the log).
    expect((await agentctl(tempDir(), home, ['resume'])).code).toBe(5);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(`${file}.checkpoint`, 'utf8'))).toMatchObject({ format: 2, seq: 6, keyedFrom: 7 });
    expect(upgrade(file).keyedFrom).toBe(7);
    const { code, report } = await verify(home);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, events: 8, authenticated: true, keyedFrom: 7, legacyEvents: 6, checkpoint: { seq: 8, keyedFrom: 7 } });
  });

  it('after the upgrade, a legacy prefix rebuilt without its scope violation (re-chained with sha256) fails', async () => {
    const { home, file } = legacyLog();
    upgrade(file);
    const db = new Database(file);
    const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").all() as { name: string; sql: string }[];
    for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
    db.prepare('DELETE FROM events WHERE seq <= 6').run();
    for (const e of chainOld(SPECS.filter((s) => s.type !== 'scope.violation').concat([{ type: 'agent.message', payload: { text: 'filler' } }]))) insertOld(db, e);
    for (const t of triggers) db.exec(t.sql);
    db.close();
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    // The keyed event #7 links to the genuine #6 and its HMAC covers that link.
    expect(report).toMatchObject({ ok: false, firstBadSeq: 7 });
  });

  it('after the upgrade, an event appended with the old hashing (passing as legacy) fails at its sequence', async () => {
    const { home, file } = legacyLog();
    upgrade(file);
    const db = new Database(file);
    const head = db.prepare('SELECT hash FROM events WHERE seq = 8').get() as { hash: string };
    const [forged] = chainOld([{ type: 'trust.promoted', payload: { agent: 'command', to: 'auto', by: 'dev@example.com' } }], 9, head.hash);
    insertOld(db, forged!);
    db.close();
    // Even with the checkpoint rolled back to an unauthenticated legacy one, it is refused.
    for (const checkpoint of ['keep', 'legacy'] as const) {
      if (checkpoint === 'legacy') writeFileSync(`${file}.checkpoint`, JSON.stringify({ seq: 9, hash: forged!.hash }));
      const { code, report } = await verify(home);
      expect(code).toBe(7);
      expect(report).toMatchObject({ ok: false, firstBadSeq: 9 });
    }
  });

  it('keyed but with no keyed event yet, an event appended with the old hashing still fails: the checkpoint says where keys start', async () => {
    const { home, file, events: old } = legacyLog();
    expect((await agentctl(tempDir(), home, ['resume'])).code).toBe(5);
    const db = new Database(file);
    const [forged] = chainOld([{ type: 'trust.promoted', payload: { agent: 'command', to: 'auto', by: 'dev@example.com' } }], 7, old[5]!.hash);
    insertOld(db, forged!);
    db.close();
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ ok: false, keyedFrom: 7, firstBadSeq: 7 });
    const r = await agentctl(tempDir(), home, ['resume']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/event #7 was not written by this installation/);
  });

  it('a keyed log with its key and checkpoint deleted is not taken for a legacy one', async () => {
    const { home, file, keyFile } = legacyLog();
    upgrade(file);
    rmSync(keyFile);
    rmSync(`${file}.checkpoint`);
    expect(() => openEventStore(file)).toThrow(/newest event #8 is not a legacy \(sha256\) event, yet there is no key/);
    expect(existsSync(keyFile)).toBe(false);
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ ok: false, firstBadSeq: 7 });
  });

  it('a legacy log that fails its own checkpoint (truncated) is not keyed over', async () => {
    const { home, file, keyFile } = legacyLog();
    writeFileSync(`${file}.checkpoint`, JSON.stringify({ seq: 9, hash: 'f'.repeat(64) }));
    expect(() => openEventStore(file)).toThrow(/legacy checkpoint \(#9\) does not match the log/);
    expect(existsSync(keyFile)).toBe(false);
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ ok: false, firstBadSeq: 7 });
  });
});
