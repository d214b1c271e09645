/**
 * Tamper evidence for the event log, beyond the hash chain:
 * - a schema fingerprint of the `events` table and its triggers, checked at open, so a dropped or
 *   altered trigger is reported as tampering;
 * - a checkpoint file outside the database (`<db>.checkpoint`: head sequence and hash, and the first
 *   sequence hashed with the key), authenticated with HMAC-SHA256 under the installation's log key, so
 *   truncating the tail, restoring an older copy of the database, or replacing database and checkpoint
 *   together is caught;
 * - `verifyLog`: integrity_check (on a second thread for a large log), fingerprint, chain and checkpoint in
 *   one report, the events streamed in constant memory.
 */
import { closeSync, constants, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import { reporting, type ProgressFn } from '../core/progress.js';
import { canonicalJson, hmacSha256, sameDigest, sha256 } from './canonical.js';
import { verifyChain, type ChainLink } from './events.js';
import { startIntegrityCheck, withScanCache } from './integrityCheck.js';
import { syncFolder } from './key.js';

/** Fingerprint of the schema objects of the `events` table (table, indexes, triggers). */
export function schemaFingerprint(db: Database.Database): string {
  const rows = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'events' ORDER BY type, name").all() as { type: string; name: string; sql: string | null }[];
  return sha256(rows.map((r) => `${r.type} ${r.name} ${(r.sql ?? '').replace(/\s+/g, ' ').trim()}`).join('\n'));
}

/** Names of the expected triggers that are missing. */
export function missingTriggers(db: Database.Database): string[] {
  const present = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").all() as { name: string }[]).map((r) => r.name));
  return ['events_no_update', 'events_no_delete', 'events_no_replace'].filter((t) => !present.has(t));
}

/** What the checkpoint states: the head when it was written, and the first keyed sequence. */
export interface Checkpoint {
  seq: number;
  hash: string;
  /** First sequence hashed with the key (events before it are legacy sha256); absent in a legacy checkpoint. */
  keyedFrom?: number | undefined;
}

/** An authenticated checkpoint as stored (format 2). */
export interface KeyedCheckpoint extends Checkpoint {
  keyedFrom: number;
  /** HMAC-SHA256(key, "agentctl-checkpoint/2\n" + canonical JSON of {seq, hash, keyedFrom}), hex. */
  mac: string;
}

/**
 * The checkpoint file as read: absent, legacy (`{seq, hash}` written by versions without keys),
 * keyed (authenticated), or unreadable (damaged, or not a checkpoint).
 */
export type CheckpointFile =
  | { kind: 'none' }
  | ({ kind: 'legacy' } & Checkpoint)
  | ({ kind: 'keyed' } & KeyedCheckpoint)
  | { kind: 'unreadable'; reason: string };

const FORMAT = 2;

/** Path of the checkpoint file for a database file. */
export function checkpointPath(dbFile: string): string {
  return `${dbFile}.checkpoint`;
}

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

/** Read and classify the checkpoint of `dbFile` (never throws). */
export function readCheckpoint(dbFile: string): CheckpointFile {
  let text: string;
  try {
    text = readFileSync(checkpointPath(dbFile), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unreadable', reason: (error as Error).message };
  }
  return parseCheckpoint(text);
}

/** Classify a checkpoint file's text (trailing spaces, the padding of an in-place update, are JSON whitespace). */
function parseCheckpoint(text: string): CheckpointFile {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(text) as Record<string, unknown>;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error('not an object');
  } catch {
    return { kind: 'unreadable', reason: 'it is not JSON' };
  }
  // Anything that claims to be authenticated is judged as such: dropping `mac` does not make it legacy
  // where a key exists (logAuth.ts refuses a legacy checkpoint beside a key).
  if ('mac' in c || 'format' in c) {
    if (c.format !== FORMAT || !isSeq(c.seq) || !isHex(c.hash) || !isSeq(c.keyedFrom) || c.keyedFrom < 1 || !isHex(c.mac)) return { kind: 'unreadable', reason: 'its fields are malformed' };
    return { kind: 'keyed', seq: c.seq, hash: c.hash, keyedFrom: c.keyedFrom, mac: c.mac };
  }
  if (isSeq(c.seq) && typeof c.hash === 'string') return { kind: 'legacy', seq: c.seq, hash: c.hash };
  return { kind: 'unreadable', reason: 'it has no sequence and hash' };
}

/**
 * {@link readCheckpoint} for a reader holding `key`: a checkpoint that does not authenticate (or cannot be
 * parsed) is read again, up to 3 more times 1 ms apart, before it is believed. Appends update the file
 * in place (see writeCheckpoint), and a read on ext4 is not atomic with a concurrent write: a read that
 * lands mid-copy sees a mix of two checkpoints, which fails its MAC. A forged or damaged one fails every time.
 * @param key the installation's key; undefined: only an unparseable read is retried
 */
export function readCheckpointFor(dbFile: string, key: KeyObject | undefined): CheckpointFile {
  let cp = readCheckpoint(dbFile);
  for (let retry = 0; retry < 3; retry++) {
    const settledRead = cp.kind === 'none' || cp.kind === 'legacy' || (cp.kind === 'keyed' && (!key || authentic(cp, key) !== undefined));
    if (settledRead) return cp;
    Atomics.wait(PAUSE, 0, 0, 1);
    cp = readCheckpoint(dbFile);
  }
  return cp;
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** The authentication code of a checkpoint's content under `key` (hex). */
export function checkpointMac(key: KeyObject, c: { seq: number; hash: string; keyedFrom: number }): string {
  return hmacSha256(key, `agentctl-checkpoint/${FORMAT}\n${canonicalJson({ seq: c.seq, hash: c.hash, keyedFrom: c.keyedFrom })}`);
}

/** The checkpoint when it is keyed and authenticated by `key`, else undefined. */
export function authentic(c: CheckpointFile, key: KeyObject): KeyedCheckpoint | undefined {
  return c.kind === 'keyed' && sameDigest(c.mac, checkpointMac(key, c)) ? c : undefined;
}

/**
 * Size of the checkpoint file: its JSON padded with spaces and a newline to a fixed length, so an append
 * can overwrite it in place. Replacing it by rename on every append cost 0.2–5 ms (ext4 flushes the new
 * file's data before a rename over an existing name commits: auto_da_alloc), more than the commit itself.
 */
const CHECKPOINT_BYTES = 256;

/**
 * Write the authenticated checkpoint. Never moves it backwards past an authentic one, unless `durable`
 * (the one-time write that keys a log) forces it. An update overwrites the fixed-size file in place with
 * one write(2) of {@link CHECKPOINT_BYTES} bytes (atomic against another writer: the inode lock; against
 * a crash: one sector; a reader that catches it mid-copy reads again, see {@link readCheckpointFor}); a
 * file of another size, a missing one, or a `durable` write is replaced atomically (temp file + rename).
 * @param durable also fsync the file and its folder (used before a new key is published)
 */
export function writeCheckpoint(dbFile: string, key: KeyObject, c: { seq: number; hash: string; keyedFrom: number }, durable = false): void {
  const content: KeyedCheckpoint & { format: number } = { format: FORMAT, seq: c.seq, hash: c.hash, keyedFrom: c.keyedFrom, mac: checkpointMac(key, c) };
  const text = `${JSON.stringify(content).padEnd(CHECKPOINT_BYTES - 1)}\n`;
  if (!durable && text.length === CHECKPOINT_BYTES && overwriteInPlace(dbFile, key, c.seq, text)) return;
  if (!durable) {
    const current = authentic(readCheckpointFor(dbFile, key), key);
    if (current && current.seq >= c.seq) return;
  }
  const tmp = `${checkpointPath(dbFile)}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  if (durable) {
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, checkpointPath(dbFile));
  remember(key, dbFile, text);
  if (durable) syncFolder(dirname(dbFile));
}

/**
 * The checkpoint text this process last wrote for each log file, per key (an append's usual case: the
 * file still holds it, so it is not authenticated again; measured on one-event appends, the checkpoint
 * write was a fifth of their time, its two HMACs most of that).
 */
const lastWritten = new WeakMap<KeyObject, Map<string, string>>();

function remember(key: KeyObject, dbFile: string, text: string): void {
  let byFile = lastWritten.get(key);
  if (!byFile) lastWritten.set(key, (byFile = new Map()));
  byFile.set(dbFile, text);
}

/**
 * Update the checkpoint in place when it is a regular file of {@link CHECKPOINT_BYTES} bytes (never
 * through a symbolic link), unless it already records `seq` or later.
 * @returns false when the file is not such a file (the caller replaces it instead)
 */
function overwriteInPlace(dbFile: string, key: KeyObject, seq: number, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(checkpointPath(dbFile), constants.O_RDWR | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== CHECKPOINT_BYTES) return false;
    const buf = Buffer.alloc(CHECKPOINT_BYTES);
    const read = readSync(fd, buf, 0, CHECKPOINT_BYTES, 0);
    const found = buf.toString('utf8', 0, read);
    const parsed = parseCheckpoint(found);
    // The bytes this process last wrote under this key need no second MAC: their code was computed here.
    let current = parsed.kind === 'keyed' && lastWritten.get(key)?.get(dbFile) === found ? parsed : authentic(parsed, key);
    // A read that caught another writer mid-copy does not authenticate: look once more before overwriting.
    if (!current) current = authentic(readCheckpointFor(dbFile, key), key);
    if (current && current.seq >= seq) return true;
    writeSync(fd, text, 0);
    remember(key, dbFile, text);
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Result of {@link verifyLog}. */
export interface VerifyReport {
  ok: boolean;
  events: number;
  /** `PRAGMA integrity_check` result. */
  integrity: string;
  schemaOk: boolean;
  missingTriggers: string[];
  chainOk: boolean;
  /** The checkpoint's content (authenticated or not), when one was read. */
  checkpoint: Checkpoint | undefined;
  checkpointOk: boolean;
  /** The installation's key was found. */
  keyPresent: boolean;
  /** Every event from `keyedFrom` on, and the checkpoint, verified with the key. */
  authenticated: boolean;
  /** First sequence hashed with the key (undefined: not known, or a legacy log). */
  keyedFrom: number | undefined;
  /** Events hashed with plain sha256 (written before the log was keyed). */
  legacyEvents: number;
  /** First sequence number at which the log is wrong, when not ok. */
  firstBadSeq: number | undefined;
  problems: string[];
}

/** How the checkpoint and key together say the chain must be checked. */
function authPlan(key: KeyObject | undefined, cp: CheckpointFile): { keyedFrom: number | undefined; problem?: string; trusted?: Checkpoint; authenticated: boolean } {
  if (key) {
    const ok = authentic(cp, key);
    if (ok) return { keyedFrom: ok.keyedFrom, trusted: ok, authenticated: true };
    const why =
      cp.kind === 'keyed' ? "its authentication code does not match this installation's key (HMAC-SHA256): it was replaced or edited"
      : cp.kind === 'legacy' ? 'it is an unauthenticated legacy checkpoint, yet this installation has a log key'
      : cp.kind === 'none' ? 'it is missing, yet this installation has a log key'
      : `it is unreadable (${cp.reason})`;
    return { keyedFrom: undefined, problem: `the checkpoint cannot be trusted: ${why}; the database and checkpoint were rebuilt or replaced`, authenticated: false };
  }
  if (cp.kind === 'keyed') {
    return { keyedFrom: cp.keyedFrom, problem: `the log key is missing: the log was authenticated from sequence ${cp.keyedFrom} with a key that is gone, so it cannot be verified (a new key would not verify it)`, authenticated: false };
  }
  if (cp.kind === 'unreadable') return { keyedFrom: undefined, problem: `the checkpoint is unreadable (${cp.reason})`, authenticated: false };
  return { keyedFrom: undefined, trusted: cp.kind === 'legacy' ? cp : undefined, authenticated: false };
}

/** A stored row as {@link verifyChain} reads it, in column order (raw rows: no per-row object of column names). */
type ChainRow = [seq: number, key: string, ts: string, type: string, version: number, runId: string | null, task: string | null, agent: string | null, project: string | null, taskType: string | null, payload: string, prevHash: string, hash: string];

/**
 * Every event in sequence order, one row at a time (better-sqlite3 `.iterate()`: constant memory), its
 * payload left as the stored text (hashed as stored, parsed only when that fails: see verifyChain).
 */
function* chainLinks(db: Database.Database): Generator<ChainLink> {
  const rows = db.prepare('SELECT seq, key, ts, type, version, run_id, task, agent, project, task_type, payload, prev_hash, hash FROM events ORDER BY seq').raw(true).iterate() as IterableIterator<ChainRow>;
  for (const r of rows) {
    yield { seq: r[0], key: r[1], ts: r[2], type: r[3], version: r[4], runId: r[5] ?? undefined, task: r[6] ?? undefined, agent: r[7] ?? undefined, project: r[8] ?? undefined, taskType: r[9] ?? undefined, payloadText: r[10], prevHash: r[11], hash: r[12] };
  }
}

/**
 * Verify the log, streaming it: the events are read one at a time in sequence order (memory does not
 * grow with the log), all from one read snapshot together with their count, head and the checkpointed
 * event, so an append by another process meanwhile changes nothing the report says.
 * @param db open database
 * @param expectedFingerprint fingerprint of an untouched schema
 * @param key the installation's log key (undefined when the key file does not exist)
 * @param checkpoint the checkpoint file as read by {@link readCheckpointFor} (read it before calling: the
 *   checkpointed event is then inside the snapshot this reads)
 * @param onProgress told how many of the events were verified (every 10,000, and at the end)
 * @returns the report; `ok` only when every check passed (a legacy log with no key yet passes unauthenticated)
 */
export function verifyLog(db: Database.Database, expectedFingerprint: string, key: KeyObject | undefined, checkpoint: CheckpointFile, onProgress?: ProgressFn): VerifyReport {
  const integrityCheck = startIntegrityCheck(db);
  const problems: string[] = [];
  const missing = missingTriggers(db);
  const schemaOk = schemaFingerprint(db) === expectedFingerprint;
  if (!schemaOk) problems.push(`the events table's schema was altered${missing.length ? ` (missing triggers: ${missing.join(', ')})` : ''}: tampering`);
  const plan = authPlan(key, checkpoint);
  const cp = plan.trusted;
  const snapshot = db.transaction(() => {
    const { count, head } = db.prepare('SELECT count(*) AS count, coalesce(max(seq), 0) AS head FROM events').get() as { count: number; head: number };
    const at = cp && cp.seq > 0 ? (db.prepare('SELECT hash FROM events WHERE seq = ?').get(cp.seq) as { hash: string } | undefined) : undefined;
    const chain = verifyChain(reporting(chainLinks(db), count, onProgress), { key, keyedFrom: plan.keyedFrom });
    return { count, head, at, chain };
  });
  const { count, head, at, chain } = withScanCache(db, () => snapshot.deferred());
  const integrity = integrityCheck();
  if (integrity !== 'ok') problems.unshift(`SQLite integrity check: ${integrity}`);
  if (!chain.ok) problems.push(`hash chain broken at sequence ${chain.firstBadSeq}: ${chain.problem}`);
  let firstBad = chain.firstBadSeq;
  let checkpointOk = plan.problem === undefined;
  if (plan.problem) {
    problems.push(plan.problem);
    // Nothing vouches for the log past what the chain itself authenticates: with a key but no keyed
    // event, that is nothing (from 1); with keyed events, the tail after the head (truncation).
    firstBad ??= !key && plan.keyedFrom !== undefined ? plan.keyedFrom : key && chain.firstKeyedSeq === undefined ? 1 : head + 1;
  }
  if (cp) {
    if (cp.seq > head) {
      checkpointOk = false;
      problems.push(`the log ends at sequence ${head} but the checkpoint recorded ${cp.seq}: events were truncated or an older copy was restored`);
      firstBad ??= head + 1;
    } else if (cp.seq > 0 && (!at || at.hash !== cp.hash)) {
      checkpointOk = false;
      problems.push(`event ${cp.seq} does not match the checkpoint hash: the log was rewritten`);
      firstBad ??= cp.seq;
    }
  }
  const keyedFrom = plan.keyedFrom ?? chain.firstKeyedSeq;
  const legacyEvents = keyedFrom === undefined ? count : Math.min(count, keyedFrom - 1);
  const checkpointShown = checkpoint.kind === 'keyed' || checkpoint.kind === 'legacy' ? { seq: checkpoint.seq, hash: checkpoint.hash, keyedFrom: checkpoint.kind === 'keyed' ? checkpoint.keyedFrom : undefined } : undefined;
  const ok = problems.length === 0;
  return {
    ok,
    events: count,
    integrity,
    schemaOk,
    missingTriggers: missing,
    chainOk: chain.ok,
    checkpoint: checkpointShown,
    checkpointOk,
    keyPresent: key !== undefined,
    authenticated: ok && plan.authenticated,
    keyedFrom,
    legacyEvents,
    firstBadSeq: ok ? undefined : firstBad,
    problems,
  };
}
