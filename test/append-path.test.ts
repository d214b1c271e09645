/**
 * The fast append and verify paths keep the log's format and meaning: canonical JSON and the event hash
 * are byte-identical to their reference definitions, the stored payload text is hashed as stored yet a
 * reformatted payload is judged as before, and the checkpoint is updated in place without ever moving
 * backwards or following a symbolic link, once per burst of appends.
 */
import { createSecretKey, randomBytes, createHash, createHmac, type KeyObject } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/evidence/canonical.js';
import { GENESIS_HASH, eventHash, eventHashOfText, verifyChain, type ChainLink, type StoredEvent } from '../src/evidence/events.js';
import { authentic, checkpointPath, readCheckpoint, writeCheckpoint } from '../src/evidence/integrity.js';
import { startIntegrityCheck } from '../src/evidence/integrityCheck.js';
import { CHECKPOINT_COALESCE_MS, openEventStore } from '../src/evidence/store.js';
import { ROOT, cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

/** canonicalJson as first written (Object.entries, filter, sort, map, join): the definition of the format. */
function referenceCanonical(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot encode ${value} canonically`);
      return JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : referenceCanonical(v))).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonical(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`cannot encode a ${typeof value} canonically`);
  }
}

/** The event hash as first written: the canonical JSON of the whole object, payload included. */
function referenceHash(e: Omit<StoredEvent, 'hash'>, key?: KeyObject): string {
  const body = referenceCanonical({ seq: e.seq, key: e.key, ts: e.ts, type: e.type, version: e.version, runId: e.runId ?? null, task: e.task ?? null, agent: e.agent ?? null, project: e.project ?? null, taskType: e.taskType ?? null, payload: e.payload });
  const text = `${e.prevHash}\n${body}`;
  return key ? createHmac('sha256', key).update(text).digest('hex') : createHash('sha256').update(text).digest('hex');
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Strings JSON escapes or that sort oddly: quotes, backslashes, controls, a lone surrogate, a pair, U+2028, digits-only keys.
const AWKWARD = ['', 'a', 'Z', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\ud800', '😀', '\u2028', 'é', '10', '9', '__proto__', 'runId', 'a"b\\c'];

function randomString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) s += AWKWARD[Math.floor(r() * AWKWARD.length)]!;
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 5 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -0, 1.5, -1e21, 1e-7, 2 ** 53, Math.floor(r() * 1e6)][Math.floor(r() * 7)];
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return undefined;
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 6); i > 0; i--) o[randomString(r)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe('canonical JSON and the event hash', () => {
  it('canonicalJson is byte-identical to the reference on 3,000 random values (unsorted, integer-like and awkward keys, undefined, -0)', () => {
    const r = rng(11);
    for (let i = 0; i < 3000; i++) {
      const v = { payload: randomValue(r, 0), [randomString(r)]: randomValue(r, 1) };
      expect(canonicalJson(v)).toBe(referenceCanonical(v));
    }
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(TypeError);
    expect(() => canonicalJson([1n])).toThrow(TypeError);
  });

  it('eventHash and eventHashOfText(canonical payload text) equal the reference hash, keyed and legacy', () => {
    const r = rng(7);
    const key = createSecretKey(randomBytes(32));
    for (let i = 0; i < 1000; i++) {
      const optional = () => (r() < 0.3 ? undefined : randomString(r));
      const e: Omit<StoredEvent, 'hash'> = { seq: i + 1, key: randomString(r) || 'k', ts: randomString(r), type: randomString(r), version: 1, runId: optional(), task: optional(), agent: optional(), project: optional(), taskType: optional(), payload: { x: randomValue(r, 0), y: randomValue(r, 0) }, prevHash: GENESIS_HASH };
      const withKey = r() < 0.5 ? key : undefined;
      const expected = referenceHash(e, withKey);
      expect(eventHash(e, withKey)).toBe(expected);
      expect(eventHashOfText(e, canonicalJson(e.payload), withKey)).toBe(expected);
    }
  });
});

/** A keyed log of `n` events, and its rows as verifyChain reads them during `audit verify` (payload as stored text). */
function keyedLog(n: number) {
  const home = tempDir();
  const file = join(home, 'agentctl.db');
  const store = openEventStore(file);
  for (let i = 1; i <= n; i++) store.append({ type: 'tool.called', runId: 'r', project: 'p', payload: { id: `call-${i}`, tool: 'Edit', input: { text: `message ${i}`, n: i, nested: { z: 1, a: [i, null] } } } });
  const auth = store.auth!;
  const links = (): ChainLink[] =>
    store.query().map(({ payload, ...rest }) => ({ ...rest, payloadText: (store.db.prepare('SELECT payload FROM events WHERE seq = ?').get(rest.seq) as { payload: string }).payload }));
  return { home, file, store, auth, links };
}

describe('verifyChain over stored payload text', () => {
  it('hashes the stored text: an honest log verifies, as it does from parsed events', () => {
    const { store, auth, links } = keyedLog(5);
    expect(verifyChain(links(), auth)).toMatchObject({ ok: true, checked: 5, firstKeyedSeq: 1 });
    expect(verifyChain(store.query(), auth)).toMatchObject({ ok: true, checked: 5 });
    store.close();
  });

  it('a payload reformatted with the same content is judged as before (verifies); a changed value fails at its sequence; text that is not JSON fails instead of throwing', () => {
    const { store, auth, links } = keyedLog(5);
    const rows = links();
    const spaced = rows.map((l) => (l.seq === 3 ? { ...l, payloadText: JSON.stringify(JSON.parse(l.payloadText!), null, 2) } : l));
    expect(spaced[2]!.payloadText).not.toBe(rows[2]!.payloadText);
    expect(verifyChain(spaced, auth)).toMatchObject({ ok: true, checked: 5 });
    const changed = rows.map((l) => (l.seq === 3 ? { ...l, payloadText: l.payloadText!.replace('message 3', 'message 9') } : l));
    expect(verifyChain(changed, auth)).toMatchObject({ ok: false, firstBadSeq: 3 });
    const broken = rows.map((l) => (l.seq === 4 ? { ...l, payloadText: '{"text":' } : l));
    expect(verifyChain(broken, auth)).toMatchObject({ ok: false, firstBadSeq: 4 });
    store.close();
  });
});

describe('the checkpoint, updated in place', () => {
  it('appends overwrite the same 256-byte file (same inode), which stays valid JSON recording the head', () => {
    const { file, store } = keyedLog(2);
    const before = statSync(checkpointPath(file));
    for (let i = 0; i < 5; i++) store.append({ type: 'agent.message', payload: { text: `m${i}` } });
    store.close();
    const after = statSync(checkpointPath(file));
    expect(after.size).toBe(256);
    expect(after.ino).toBe(before.ino);
    expect(readCheckpoint(file)).toMatchObject({ kind: 'keyed', seq: 7, keyedFrom: 1 });
    expect(JSON.parse(readFileSync(checkpointPath(file), 'utf8'))).toMatchObject({ format: 2, seq: 7 });
  });

  it('never moves backwards: an update that records an older head changes nothing', () => {
    const { file, store, auth } = keyedLog(4);
    store.close();
    const text = readFileSync(checkpointPath(file), 'utf8');
    expect(readCheckpoint(file)).toMatchObject({ kind: 'keyed', seq: 4 });
    writeCheckpoint(file, auth.key, { seq: 2, hash: 'a'.repeat(64), keyedFrom: 1 });
    expect(readFileSync(checkpointPath(file), 'utf8')).toBe(text);
  });

  it('a checkpoint edited after this process wrote it is authenticated again: a forged later head does not hold the next append back', async () => {
    const { file, store } = keyedLog(3);
    await settled();
    const text = readFileSync(checkpointPath(file), 'utf8');
    // Same length, same MAC, a later sequence: the bytes are no longer the ones this process wrote.
    const forged = text.replace('"seq":3', '"seq":9');
    expect(forged).not.toBe(text);
    writeFileSync(checkpointPath(file), forged);
    store.append({ type: 'agent.message', payload: { text: 'm4' } });
    store.close();
    expect(readCheckpoint(file)).toMatchObject({ kind: 'keyed', seq: 4 });
    expect(authentic(readCheckpoint(file), store.auth!.key)).toBeDefined();
  });

  it('a checkpoint of another size (written by an older version) is replaced whole, then updated in place', () => {
    const { file, store } = keyedLog(1);
    const cp = readCheckpoint(file);
    writeFileSync(checkpointPath(file), `${JSON.stringify(cp.kind === 'keyed' ? { format: 2, seq: cp.seq, hash: cp.hash, keyedFrom: cp.keyedFrom, mac: cp.mac } : {})}\n`);
    store.append({ type: 'agent.message', payload: { text: 'm2' } });
    store.close();
    expect(statSync(checkpointPath(file)).size).toBe(256);
    expect(readCheckpoint(file)).toMatchObject({ kind: 'keyed', seq: 2 });
  });

  it('a symbolic link put in its place is not written through: the link is replaced, its target untouched', () => {
    const { file, store } = keyedLog(1);
    const target = join(tempDir(), 'elsewhere');
    writeFileSync(target, readFileSync(checkpointPath(file)));
    const original = readFileSync(target, 'utf8');
    rmSync(checkpointPath(file));
    symlinkSync(target, checkpointPath(file));
    store.append({ type: 'agent.message', payload: { text: 'm2' } });
    store.close();
    expect(readFileSync(target, 'utf8')).toBe(original);
    expect(statSync(checkpointPath(file)).isFile()).toBe(true);
    expect(readCheckpoint(file)).toMatchObject({ kind: 'keyed', seq: 2 });
  });
});

/** Wait until a burst's pending checkpoint write has run (its timer: CHECKPOINT_COALESCE_MS). */
const settled = () => new Promise((resolve) => setTimeout(resolve, CHECKPOINT_COALESCE_MS * 3));

describe('the checkpoint of a burst of appends', () => {
  const message = (i: number) => ({ type: 'agent.message', payload: { text: `m${i}` } }) as const;
  const seqOf = (file: string) => {
    const cp = readCheckpoint(file);
    return cp.kind === 'keyed' ? cp.seq : undefined;
  };

  it('is written at the first append after a quiet spell, left behind (never ahead) during the burst, and written by a timer after it', async () => {
    const { file, store } = keyedLog(0);
    store.append(message(1));
    expect(seqOf(file)).toBe(1);
    for (let i = 2; i <= 30; i++) store.append(message(i));
    const during = seqOf(file)!;
    expect(during).toBeLessThan(30);
    expect(store.query()[during - 1]!.hash).toBe((readCheckpoint(file) as { hash: string }).hash);
    await settled();
    expect(seqOf(file)).toBe(30);
    expect(authentic(readCheckpoint(file), store.auth!.key)).toBeDefined();
    // A quiet spell has passed: the next append writes it at once.
    store.append(message(31));
    expect(seqOf(file)).toBe(31);
    store.close();
  });

  it('is written by close(), and by the exit of a process that never closed its store', async () => {
    const { file, store } = keyedLog(1);
    for (let i = 2; i <= 10; i++) store.append(message(i));
    expect(seqOf(file)).toBeLessThan(10);
    store.close();
    expect(seqOf(file)).toBe(10);

    const code = `
      const { openEventStore } = await import(${JSON.stringify(join(ROOT, 'dist/evidence/store.js'))});
      const store = openEventStore(${JSON.stringify(file)});
      for (let i = 0; i < 20; i++) store.append({ type: 'agent.message', payload: { text: 'child ' + i } });
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(seqOf(file)).toBe(30);
    const again = openEventStore(file);
    expect(again.headSeq()).toBe(30);
    again.close();
  });

  it('a retried key inside a burst (its older event returned) does not move the pending checkpoint back', () => {
    const { file, store } = keyedLog(0);
    store.append({ ...message(1), key: 'k1' });
    for (let i = 2; i <= 4; i++) store.append(message(i));
    expect(store.append({ ...message(1), key: 'k1' }).map((e) => e.seq)).toEqual([1]);
    store.close();
    expect(seqOf(file)).toBe(4);
  });

  it('a log whose checkpoint was left behind (the process was killed) opens, verifies its tail, and the next append catches the checkpoint up', () => {
    const { file, store } = keyedLog(1);
    const code = `
      const { openEventStore } = await import(${JSON.stringify(join(ROOT, 'dist/evidence/store.js'))});
      const store = openEventStore(${JSON.stringify(file)});
      for (let i = 0; i < 20; i++) store.append({ type: 'agent.message', payload: { text: 'child ' + i } });
      process.kill(process.pid, 'SIGKILL');`;
    store.close();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    expect(seqOf(file)).toBeLessThan(21);
    const again = openEventStore(file);
    expect(again.headSeq()).toBe(21);
    expect(verifyChain(again.query(), again.auth!)).toMatchObject({ ok: true, checked: 21 });
    again.append(message(22));
    expect(seqOf(file)).toBe(22);
    again.close();
  });
});

describe('append path', () => {
  it('a caller-chosen key is still idempotent inside one batch and across batches; random keys never collide with stored ones', () => {
    const { store, file } = keyedLog(0);
    const first = store.append([{ type: 'agent.message', key: 'k1', payload: { text: '1' } }, { type: 'agent.message', payload: { text: '2' } }]);
    const again = store.append([{ type: 'agent.message', key: 'k1', payload: { text: 'other' } }, { type: 'agent.message', key: 'k1', payload: { text: '3' } }]);
    expect(again.map((e) => e.seq)).toEqual([1, 1]);
    expect(again[0]).toEqual(first[0]);
    expect(store.headSeq()).toBe(2);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT count(DISTINCT key) AS n FROM events').get()).toEqual({ n: 2 });
    db.close();
    expect(verifyChain(store.query(), store.auth!)).toMatchObject({ ok: true, checked: 2 });
    store.close();
  });
});

describe('several processes at once', () => {
  it('4 writers (single and batched appends) and 2 processes re-opening the log: all succeed, one chain, an authentic checkpoint on it', async () => {
    const { file, store } = keyedLog(1);
    store.close();
    const start = Date.now() + 1500;
    const storeModule = JSON.stringify(join(ROOT, 'dist/evidence/store.js'));
    const writer = (w: number) => `
      const { openEventStore } = await import(${storeModule});
      while (Date.now() < ${start}) {}
      const store = openEventStore(${JSON.stringify(file)});
      for (let i = 0; i < 60; i++) {
        if (i % 3) store.append({ type: 'tool.called', key: 'w${w}-' + i, project: 'p', payload: { id: 'c' + i, tool: 'Bash', input: { i } } });
        else store.append([0, 1, 2, 3, 4].map((j) => ({ type: 'agent.message', key: 'w${w}-' + i + '-' + j, payload: { text: i + '-' + j } })));
      }
      store.close();`;
    // Opening checks the tail since the checkpoint and reads the checkpoint while the writers update it in place.
    const opener = `
      const { openEventStore } = await import(${storeModule});
      while (Date.now() < ${start}) {}
      for (let i = 0; i < 40; i++) openEventStore(${JSON.stringify(file)}).close();`;
    const scripts = [0, 1, 2, 3].map(writer).concat([opener, opener]);
    const results = await Promise.all(
      scripts.map(
        (code) =>
          new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            child.stderr.on('data', (d) => (stderr += d));
            child.on('error', reject);
            child.on('close', (c) => resolve({ code: c, stderr }));
          }),
      ),
    );
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const again = openEventStore(file);
    const events = again.query();
    expect(events).toHaveLength(1 + 4 * (40 + 20 * 5));
    expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
    expect(verifyChain(events, again.auth!)).toMatchObject({ ok: true, checked: events.length });
    // Two writers finishing at once may leave it one append behind (each compares, then writes): never ahead, always an event's true hash.
    const cp = readCheckpoint(file);
    expect(cp.kind).toBe('keyed');
    if (cp.kind === 'keyed') expect(cp.hash).toBe(events[cp.seq - 1]!.hash);
    again.close();
  }, 120_000);
});

describe('the integrity check on a second thread', () => {
  it('answers what PRAGMA integrity_check answers on this thread, healthy and with an index page overwritten', () => {
    const { file, store } = keyedLog(30);
    store.close();
    const check = (db: Database.Database) => {
      const parallel = startIntegrityCheck(db, 0);
      const worker = parallel();
      expect(parallel.ranOn).toBe('worker');
      return { worker, here: String(db.pragma('integrity_check', { simple: true })) };
    };
    let db = new Database(file);
    expect(check(db)).toEqual({ worker: 'ok', here: 'ok' });
    // Overwrite the end of an index's root page (where its cells live): the index no longer matches the table.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'events_by_type'").get() as { rootpage: number };
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    db.close();
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(200, 0x41), 0, 200, rootpage * pageSize - 300);
    closeSync(fd);
    db = new Database(file);
    const damaged = check(db);
    expect(damaged.here).toMatch(/events_by_type|page|corrupt/i);
    expect(damaged.worker).toBe(damaged.here);
    db.close();
  });
});
