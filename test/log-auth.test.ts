/**
 * The log is authenticated (HMAC-SHA256 under the installation key): each attack below is carried out
 * on a real SQLite file the way an agent process would (better-sqlite3 directly, or agentctl's own
 * modules with a key it made itself), then `agentctl audit verify` (the built bin) must exit 7 naming
 * the first bad sequence, and normal commands must refuse to use the log.
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, sha256 } from '../src/evidence/canonical.js';
import { GENESIS_HASH, eventHash, type StoredEvent } from '../src/evidence/events.js';
import { writeCheckpoint } from '../src/evidence/integrity.js';
import { createLogKey } from '../src/evidence/key.js';
import { openEventStore } from '../src/evidence/store.js';
import { agentctl, cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

const subject = { runId: 'run1', project: 'p', agent: 'command', taskType: 'docs' };

/** A keyed log of 10 events; #4 and #7 are scope violations. */
function seeded() {
  const home = tempDir();
  const file = join(home, 'agentctl.db');
  const store = openEventStore(file);
  for (let i = 1; i <= 10; i++) {
    if (i === 4 || i === 7) store.append({ type: 'scope.violation', ...subject, payload: { path: `.github/workflows/x${i}.yml`, reason: 'outside the write scope', protected: false } });
    else store.append({ type: 'agent.message', ...subject, payload: { text: `message ${i}` } });
  }
  store.close();
  return { home, file };
}

/** Every stored event, read straight from the file. */
function rows(file: string): StoredEvent[] {
  const db = new Database(file, { readonly: true });
  const all = db.prepare('SELECT * FROM events ORDER BY seq').all() as Record<string, unknown>[];
  db.close();
  return all.map((r) => ({
    seq: r.seq as number, key: r.key as string, ts: r.ts as string, type: r.type as string, version: r.version as number,
    runId: (r.run_id as string | null) ?? undefined, task: (r.task as string | null) ?? undefined, agent: (r.agent as string | null) ?? undefined,
    project: (r.project as string | null) ?? undefined, taskType: (r.task_type as string | null) ?? undefined,
    payload: JSON.parse(r.payload as string) as Record<string, unknown>, prevHash: r.prev_hash as string, hash: r.hash as string,
  }));
}

function insert(db: Database.Database, e: StoredEvent): void {
  db.prepare(
    `INSERT INTO events (seq, key, ts, type, version, run_id, task, agent, project, task_type, payload, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(e.seq, e.key, e.ts, e.type, e.version, e.runId ?? null, e.task ?? null, e.agent ?? null, e.project ?? null, e.taskType ?? null, canonicalJson(e.payload), e.prevHash, e.hash);
}

/** Chain `e` after `prev` with the attacker's own hashing: plain sha256 computed by hand, or an own key. */
function forge(e: Omit<StoredEvent, 'hash' | 'prevHash'>, prevHash: string, own: KeyObject | 'plain'): StoredEvent {
  const base = { ...e, prevHash };
  if (own !== 'plain') return { ...base, hash: eventHash(base, own) };
  const body = canonicalJson({ seq: e.seq, key: e.key, ts: e.ts, type: e.type, version: e.version, runId: e.runId ?? null, task: null, agent: e.agent ?? null, project: e.project ?? null, taskType: e.taskType ?? null, payload: e.payload });
  return { ...base, hash: sha256(`${prevHash}\n${body}`) };
}

const promotion = (seq: number) => ({
  seq, key: `forged-${seq}`, ts: '2026-12-01T10:00:00.000Z', type: 'trust.promoted', version: 1, agent: 'command', project: 'p', taskType: 'docs',
  payload: { agent: 'command', project: 'p', taskType: 'docs', from: 'review', to: 'auto', by: 'dev@example.com', note: null, forced: false, missing: [], evidence: {} },
});

async function verify(home: string) {
  const json = await agentctl(tempDir(), home, ['audit', 'verify', '--json']);
  const text = await agentctl(tempDir(), home, ['audit', 'verify']);
  return { code: json.code, report: JSON.parse(json.stdout), textCode: text.code, text: text.stdout };
}

/** A normal command that opens the log (resume needs no repository) must refuse, exit 3, and add nothing. */
async function normalCommandRefuses(home: string, file: string, message: RegExp) {
  const before = rows(file).length;
  const r = await agentctl(tempDir(), home, ['resume']);
  expect(r.code, r.stderr).toBe(3);
  expect(r.stderr).toMatch(message);
  expect(rows(file)).toHaveLength(before);
}

/** Replace the database (and drop its WAL) with `rebuilt`. */
function replaceDatabase(file: string, rebuilt: string): void {
  for (const s of ['-wal', '-shm']) rmSync(file + s, { force: true });
  copyFileSync(rebuilt, file);
}

describe('audit verify authenticates the log', () => {
  it('passes an untouched keyed log, authenticated from #1', async () => {
    const { home } = seeded();
    const { code, report, text } = await verify(home);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, events: 10, authenticated: true, keyedFrom: 1, legacyEvents: 0, checkpoint: { seq: 10, keyedFrom: 1 } });
    expect(text).toMatch(/chain authenticated with HMAC-SHA256 from #1/);
  });

  it.each(['plain', 'own key'] as const)('a) a forged trust.promoted appended with a recomputed %s chain fails at its sequence', async (how) => {
    const { home, file } = seeded();
    const own = how === 'plain' ? 'plain' : createLogKey(join(tempDir(), 'keys', 'log.key')).key;
    const head = rows(file).at(-1)!;
    const forged = forge(promotion(11), head.hash, own);
    const db = new Database(file);
    insert(db, forged);
    db.close();
    // With its own key the attacker also re-signs the checkpoint to cover the forged head.
    if (own !== 'plain') writeCheckpoint(file, own, { seq: 11, hash: forged.hash, keyedFrom: 1 }, true);
    const { code, report, textCode, text } = await verify(home);
    expect(code).toBe(7);
    expect(textCode).toBe(7);
    expect(report).toMatchObject({ ok: false, firstBadSeq: 11, chainOk: false });
    expect(text).toMatch(/first bad sequence: 11/);
    expect(text).toMatch(/hash chain broken at sequence 11: .*(authentication code|neither)/);
    await normalCommandRefuses(home, file, own === 'plain' ? /event #11 was not written by this installation/ : /checkpoint's authentication code does not match/);
  });

  it("a) agentctl's own store module, given a key the attacker made, refuses to open the log", () => {
    const { file } = seeded();
    const keyFile = join(tempDir(), 'keys', 'log.key');
    expect(() => openEventStore(file, { keyFile })).toThrow(/key .* is missing, but the log was authenticated/);
    expect(existsSync(keyFile)).toBe(false);
    createLogKey(keyFile);
    expect(() => openEventStore(file, { keyFile })).toThrow(/checkpoint's authentication code does not match the installation key/);
  });

  it.each(['own key', 'plain, legacy checkpoint'] as const)('b) the log rebuilt without its scope.violation events (%s), database and checkpoint replaced, fails at the first dropped event', async (how) => {
    const { home, file } = seeded();
    const original = rows(file);
    const firstDropped = original.find((e) => e.type === 'scope.violation')!.seq;
    expect(firstDropped).toBe(4);
    // Keep the untouched prefix byte for byte (its hashes are genuine), renumber and re-chain the rest.
    const dir = tempDir();
    const rebuilt = join(dir, 'agentctl.db');
    // agentctl's own store module makes the attacker a fresh key beside the rebuilt file.
    const fresh = openEventStore(rebuilt);
    const own = fresh.auth!.key;
    fresh.close();
    const db = new Database(rebuilt);
    let prev = GENESIS_HASH;
    let seq = 0;
    for (const e of original.filter((x) => x.type !== 'scope.violation')) {
      seq++;
      const next = e.seq < firstDropped ? e : forge({ ...e, seq }, prev, how === 'own key' ? own : 'plain');
      insert(db, next);
      prev = next.hash;
    }
    db.close();
    replaceDatabase(file, rebuilt);
    if (how === 'own key') writeCheckpoint(file, own, { seq, hash: prev, keyedFrom: 1 }, true);
    else writeFileSync(`${file}.checkpoint`, JSON.stringify({ seq, hash: prev }) + '\n');
    expect(rows(file).filter((e) => e.type === 'scope.violation')).toEqual([]);

    const { code, report, text } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ ok: false, events: 8, checkpointOk: false, firstBadSeq: firstDropped });
    expect(report.problems.join('\n')).toMatch(/the checkpoint cannot be trusted/);
    expect(text).toMatch(new RegExp(`first bad sequence: ${firstDropped}`));
    await normalCommandRefuses(home, file, /fails authentication: its checkpoint/);
  });

  it('c) with the key file deleted, verify fails at #1, and no command makes a new key for the log', async () => {
    const { home, file } = seeded();
    const keyFile = join(home, 'keys', 'log.key');
    rmSync(keyFile);
    const { code, report, text } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ ok: false, keyPresent: false, authenticated: false, firstBadSeq: 1 });
    expect(text).toMatch(/first bad sequence: 1/);
    expect(text).toMatch(/the log key is missing/);
    await normalCommandRefuses(home, file, /will not make a new key for a keyed log/);
    expect(existsSync(keyFile)).toBe(false);
    // Verification itself is read-only: still no key.
    await verify(home);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('a key creation cut short after the keyed checkpoint was written is finished at the next open; a stray key is not adopted', () => {
    const home = tempDir();
    const file = join(home, 'agentctl.db');
    const keyFile = join(home, 'keys', 'log.key');
    openEventStore(file).close();
    rmSync(keyFile);
    // A pending key that does not authenticate the checkpoint is someone else's: refused, not adopted.
    const strayBytes = randomBytes(32);
    writeFileSync(`${keyFile}.1.aa.pending`, strayBytes, { mode: 0o600 });
    expect(() => openEventStore(file)).toThrow(/will not make a new key for a keyed log/);
    expect(existsSync(keyFile)).toBe(false);
    // The state a crash between the checkpoint write and the key's link leaves: both on disk, key pending.
    const bytes = randomBytes(32);
    writeFileSync(`${keyFile}.2.bb.pending`, bytes, { mode: 0o600 });
    writeCheckpoint(file, createSecretKey(bytes), { seq: 0, hash: GENESIS_HASH, keyedFrom: 1 }, true);
    const store = openEventStore(file);
    store.append({ type: 'agent.message', payload: { text: 'after recovery' } });
    store.close();
    expect(readFileSync(keyFile).equals(bytes)).toBe(true);
    expect(existsSync(`${keyFile}.2.bb.pending`)).toBe(false);
    expect(existsSync(`${keyFile}.1.aa.pending`)).toBe(true);
  });

  it('a projection snapshot edited in the database is ignored (rebuilt from the events), an honest one is used', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    const snapshot = { name: 'trust:p', lastSeq: 0, rulesHash: 'r', state: JSON.stringify({ level: 'hold' }) };
    store.saveProjection(snapshot);
    expect(store.loadProjection('trust:p')).toEqual(snapshot);
    store.db.prepare('UPDATE projections SET state = ?, last_seq = 99 WHERE name = ?').run(JSON.stringify({ level: 'auto' }), 'trust:p');
    expect(store.loadProjection('trust:p')).toBeUndefined();
    // The honest save replaces the forged row even though the forged one claims a later sequence.
    store.saveProjection(snapshot);
    expect(store.loadProjection('trust:p')).toEqual(snapshot);
    store.close();
  });

  it("the test's hand-made sha256 is the legacy hash; two keys give two codes (sanity of the forging above)", () => {
    const a = createSecretKey(randomBytes(32));
    const e = { ...promotion(1), prevHash: GENESIS_HASH };
    expect(eventHash(e, a)).not.toBe(eventHash(e, createSecretKey(randomBytes(32))));
    expect(eventHash(e)).toBe(forge(promotion(1), GENESIS_HASH, 'plain').hash);
  });
});
