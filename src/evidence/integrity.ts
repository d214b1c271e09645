/**
 * Tamper evidence for the event log, beyond the hash chain:
 * - a schema fingerprint of the `events` table and its triggers, checked at open, so a dropped or
 *   altered trigger is reported as tampering;
 * - a checkpoint file outside the database (`<db>.checkpoint`: head sequence and hash), so truncating
 *   the tail or restoring an older copy of the database is caught;
 * - `verifyLog`: integrity_check, fingerprint, chain and checkpoint in one report.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { sha256 } from './canonical.js';
import { verifyChain, type StoredEvent } from './events.js';

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

/** The checkpoint kept beside the database. */
export interface Checkpoint {
  seq: number;
  hash: string;
}

/** Path of the checkpoint file for a database file. */
function checkpointPath(dbFile: string): string {
  return `${dbFile}.checkpoint`;
}

/** Read the checkpoint, or undefined when there is none or it is unreadable. */
export function readCheckpoint(dbFile: string): Checkpoint | undefined {
  try {
    const c = JSON.parse(readFileSync(checkpointPath(dbFile), 'utf8')) as Checkpoint;
    return typeof c.seq === 'number' && typeof c.hash === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Write the checkpoint atomically (temp file + rename); never moves it backwards. */
export function writeCheckpoint(dbFile: string, c: Checkpoint): void {
  const current = readCheckpoint(dbFile);
  if (current && current.seq >= c.seq) return;
  const tmp = `${checkpointPath(dbFile)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c) + '\n');
  renameSync(tmp, checkpointPath(dbFile));
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
  checkpoint: Checkpoint | undefined;
  checkpointOk: boolean;
  /** First sequence number at which the log is wrong, when not ok. */
  firstBadSeq: number | undefined;
  problems: string[];
}

/**
 * Verify the log.
 * @param db open database
 * @param events all events in sequence order
 * @param expectedFingerprint fingerprint of an untouched schema
 * @param checkpoint the checkpoint file's content, if any
 */
export function verifyLog(db: Database.Database, events: readonly StoredEvent[], expectedFingerprint: string, checkpoint: Checkpoint | undefined): VerifyReport {
  const problems: string[] = [];
  const integrity = String(db.pragma('integrity_check', { simple: true }));
  if (integrity !== 'ok') problems.push(`SQLite integrity check: ${integrity}`);
  const missing = missingTriggers(db);
  const schemaOk = schemaFingerprint(db) === expectedFingerprint;
  if (!schemaOk) problems.push(`the events table's schema was altered${missing.length ? ` (missing triggers: ${missing.join(', ')})` : ''}: tampering`);
  const chain = verifyChain(events);
  if (!chain.ok) problems.push(`hash chain broken at sequence ${chain.firstBadSeq}: ${chain.problem}`);
  let checkpointOk = true;
  let firstBad = chain.firstBadSeq;
  if (checkpoint) {
    const at = events.find((e) => e.seq === checkpoint.seq);
    const head = events.at(-1)?.seq ?? 0;
    if (checkpoint.seq > head) {
      checkpointOk = false;
      problems.push(`the log ends at sequence ${head} but the checkpoint recorded ${checkpoint.seq}: events were truncated or an older copy was restored`);
      firstBad ??= head + 1;
    } else if (!at || at.hash !== checkpoint.hash) {
      checkpointOk = false;
      problems.push(`event ${checkpoint.seq} does not match the checkpoint hash: the log was rewritten`);
      firstBad ??= checkpoint.seq;
    }
  }
  return { ok: problems.length === 0, events: events.length, integrity, schemaOk, missingTriggers: missing, chainOk: chain.ok, checkpoint, checkpointOk, firstBadSeq: problems.length ? firstBad : undefined, problems };
}
