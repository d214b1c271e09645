/**
 * `agentctl store migrate`: copy a machine's local SQLite log into a team's PostgreSQL log.
 *
 * The local log is verified first (as `audit verify` does; a log that fails is refused, nothing copied)
 * and only the events verified are copied. Every event keeps its identity: its key (the event id and
 * idempotency key), time, type, payload version, subject (run, task, agent, project, task type) and
 * payload, byte for byte (the canonical text). Only its place changes: it is chained after the shared
 * log's head and authenticated with the team key (HMAC-SHA256), in batches, each one transaction under
 * the head row's lock, like any append.
 *
 * Re-running copies nothing twice: an event whose key the shared log holds is skipped. Two chains are
 * never mixed wrongly; before anything is written the migration refuses (nothing changed) when
 * - the shared log holds an event of one of the local log's projects that did not come from this log
 *   (another machine already records that project there: its history and this one would interleave);
 * - an event with one of the local keys is in the shared log with another identity;
 * - the local log ends halted (this machine's agents were stopped on purpose: resume it first).
 * Kill-switch events are never copied: the team's switch is the team's (a local resume copied after a
 * teammate's halt would lift it).
 */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ConfigError, IntegrityError, StateError } from '../../core/errors.js';
import type { HomePaths } from '../../core/paths.js';
import { GENESIS_HASH, eventHashOfText, type StoredEvent } from '../events.js';
import { openStore, verifyStore } from '../openStore.js';
import { openEventStore } from '../store.js';
import { headAuthentic, headMac, writeLocalCheckpoint, type HeadRow } from './auth.js';
import type { PgEventStore } from './pgStore.js';
import { fromRow, insertEvents, type EventRow } from './rows.js';
import { SCHEMA } from './schema.js';
import type { PgSession } from './session.js';

/** Options for {@link migrateLog}. */
export interface MigrateOptions {
  /** Events per transaction (default 1000). */
  batchSize?: number;
  /** Called after each batch with the events handled so far and the total to handle (the verified events less the kill switch's, which are never copied). */
  onProgress?: (done: number, total: number) => void;
}

/** Event types of the kill switch, never copied by a migration (see migrateLog). */
const KILL_SWITCH = ['system.halted', 'system.resumed'] as const;
/** {@link KILL_SWITCH} as an SQL list (constant strings). */
const KILL_SWITCH_SQL = KILL_SWITCH.map((t) => `'${t}'`).join(', ');

/** What a migration did (counts of events). */
export interface MigrateResult {
  /** The local log file. */
  source: string;
  /** The shared store's URL without its password. */
  target: string;
  /** Events in the local log that were verified (and considered). */
  events: number;
  /** Events written to the shared log by this run. */
  copied: number;
  /** Events the shared log already held (copied by an earlier run). */
  alreadyPresent: number;
  /** Kill-switch events (`system.halted`, `system.resumed`) not copied: this machine's, not the team's. */
  killSwitchSkipped: number;
  /** Projects the local log holds events of. */
  projects: string[];
  /** The shared log's head after the migration. */
  headSeq: number;
}

/** An event as read from a log, with its payload exactly as stored. */
interface Row {
  event: StoredEvent;
  payloadText: string;
}

const rowOf = (r: EventRow): Row => ({ event: fromRow(r), payloadText: r.payload });

/** The identity of an event: everything but its place in a chain (the payload as stored, byte for byte). */
function identity({ event: e, payloadText }: Row): string {
  return JSON.stringify([e.key, e.ts, e.type, e.version, e.runId ?? null, e.task ?? null, e.agent ?? null, e.project ?? null, e.taskType ?? null, payloadText]);
}

/**
 * Copy the local SQLite log of `paths` (the current AGENTCTL_HOME) into the PostgreSQL store at `url`.
 * @param paths AGENTCTL_HOME paths: the local log (`agentctl.db`) and this machine's checkpoints
 * @param env reads AGENTCTL_LOG_KEY_FILE (the team key; else `$AGENTCTL_HOME/keys/team.key`)
 * @param url the shared store (`postgres://…`, the writer role)
 * @returns counts (see {@link MigrateResult})
 * @throws ConfigError when there is no local log, or the shared store cannot be opened (unreachable,
 *   not initialised, no team key, fails authentication); IntegrityError (exit 7) when the local log
 *   fails verification; StateError when the shared log holds events of the same projects that did
 *   not come from this log, an event with a local key but another identity, or the local log ends
 *   halted. Nothing is written then.
 */
export function migrateLog(paths: HomePaths, env: NodeJS.ProcessEnv, url: string, options: MigrateOptions = {}): MigrateResult {
  const file = paths.database;
  const batchSize = Math.max(1, options.batchSize ?? 1000);
  if (!existsSync(file)) throw new ConfigError(`there is no local event log at ${file}; nothing to migrate`, { hint: 'Set AGENTCTL_HOME to the folder whose log you want to copy.' });
  const report = verifyStore({ kind: 'sqlite', file }, paths, env);
  if (!report?.ok) {
    const where = report?.firstBadSeq !== undefined ? ` (first bad sequence: ${report.firstBadSeq})` : '';
    throw new IntegrityError(`the local event log ${file} fails verification${where}: ${(report?.problems ?? []).join('; ')}; nothing was copied`, { hint: 'Inspect it with: AGENTCTL_STORE=sqlite agentctl audit verify' });
  }
  const verified = report.events;
  // Inspection mode: nothing is written to the local log (it was verified just now).
  const local = openEventStore(file, { allowTampered: true });
  try {
    const target = openStore({ kind: 'postgres', url }, paths, env) as PgEventStore;
    try {
      const key = target.auth!.key;
      const projects = (local.db.prepare('SELECT DISTINCT project FROM events WHERE project IS NOT NULL AND seq <= ? ORDER BY project').all(verified) as { project: string }[]).map((r) => r.project);
      // The kill switch is global: a local halt or resume copied after the team's newest event would
      // halt the team, or lift a halt a teammate set. The team's switch stays the team's.
      const page = local.db.prepare(`SELECT * FROM events WHERE seq > ? AND seq <= ? AND type NOT IN (${KILL_SWITCH_SQL}) ORDER BY seq LIMIT ?`);
      const killSwitchSkipped = (local.db.prepare(`SELECT count(*) AS n FROM events WHERE seq <= ? AND type IN (${KILL_SWITCH_SQL})`).get(verified) as { n: number }).n;
      const batches = function* (): Generator<Row[]> {
        for (let after = 0; after < verified; ) {
          const batch = (page.all(after, verified, batchSize) as EventRow[]).map(rowOf);
          if (batch.length === 0) return;
          yield batch;
          after = batch.at(-1)!.event.seq;
        }
      };
      // 1. Checks, before anything is written.
      // A log that ends halted: this machine's operator stopped everything; they resume it first.
      const control = local.db.prepare(`SELECT seq, type FROM events WHERE type IN (${KILL_SWITCH_SQL}) AND seq <= ? ORDER BY seq DESC LIMIT 1`).get(verified) as { seq: number; type: string } | undefined;
      if (control?.type === 'system.halted') {
        throw new StateError(`the local event log ${file} ends halted (kill switch, #${control.seq}): this machine's agents were stopped on purpose; nothing was copied`, { hint: 'Resume it first (AGENTCTL_STORE=sqlite agentctl resume), then migrate.' });
      }
      const hasKey = local.db.prepare('SELECT 1 FROM events WHERE key = ? AND seq <= ?');
      const foreign = target.session.query<{ key: string; seq: number; project: string }>(`SELECT key, seq, project FROM ${SCHEMA}.events WHERE project = ANY($1::text[]) ORDER BY seq`, [projects]).filter((r) => !hasKey.get(r.key, verified));
      if (foreign.length > 0) {
        const f = foreign[0]!;
        throw new StateError(
          `the shared log ${target.name} already holds ${foreign.length} event(s) of project ${f.project} that did not come from this log (first: #${f.seq}, key ${f.key}): another machine records that project there, and two histories of one project would interleave; nothing was copied`,
          { hint: 'Migrate each project from the one log that holds its history, before anyone records it in the shared store.' },
        );
      }
      let present = 0;
      for (const batch of batches()) {
        const stored = new Map(existingRows(target.session, batch.map((r) => r.event.key)).map((r) => [r.event.key, r]));
        for (const r of batch) {
          const there = stored.get(r.event.key);
          if (!there) continue;
          if (identity(there) !== identity(r)) {
            throw new StateError(`the shared log ${target.name} holds event #${there.event.seq} with key ${r.event.key}, but not the local event #${r.event.seq} of that key (another type, time, subject or payload); nothing was copied`);
          }
          present++;
        }
      }
      // 2. The copy.
      let copied = 0;
      let done = 0;
      for (const batch of batches()) {
        copied += importBatch(target, key, batch, paths.storesDir);
        done += batch.length;
        options.onProgress?.(done, verified - killSwitchSkipped);
      }
      return { source: file, target: target.name, events: verified, copied, alreadyPresent: present, killSwitchSkipped, projects, headSeq: target.headSeq() };
    } finally {
      target.close();
    }
  } finally {
    local.close();
  }
}

/** Rows of the shared log with these keys. */
function existingRows(s: PgSession, keys: readonly string[]): Row[] {
  return s.query<EventRow>(`SELECT * FROM ${SCHEMA}.events WHERE key = ANY($1::text[])`, [keys]).map(rowOf);
}

/**
 * Append `events` (identities kept) after the shared log's head in one transaction under the head row's
 * lock; events whose key is there already are skipped.
 * @returns how many were written
 * @throws ConfigError when the head row does not match the newest event or the key (nothing written)
 */
function importBatch(target: PgEventStore, key: KeyObject, events: readonly Row[], checkpointDir: string): number {
  const s = target.session;
  const reads = s.batch([
    { sql: 'BEGIN' },
    { sql: `SELECT seq, hash, mac FROM ${SCHEMA}.log_head WHERE id = 1 FOR UPDATE` },
    { sql: `SELECT seq, hash FROM ${SCHEMA}.events ORDER BY seq DESC LIMIT 1` },
    { sql: `SELECT key FROM ${SCHEMA}.events WHERE key = ANY($1::text[])`, params: [events.map((r) => r.event.key)] },
  ]);
  try {
    const row = reads[1]![0] as unknown as HeadRow | undefined;
    const top = reads[2]![0] as { seq: number; hash: string } | undefined;
    const head = row && { seq: Number(row.seq), hash: row.hash, mac: row.mac };
    if (!head || !headAuthentic(key, head) || Number(top?.seq ?? 0) !== head.seq || (top?.hash ?? GENESIS_HASH) !== head.hash) {
      throw new ConfigError(`the shared event log ${target.name} fails authentication: its head row does not match its newest event or the team key; nothing more was copied`, { hint: 'Inspect it with: agentctl audit verify' });
    }
    const known = new Set((reads[3] as { key: string }[]).map((r) => r.key));
    let seq = head.seq;
    let prevHash = head.hash;
    const rows: { event: StoredEvent; payloadText: string }[] = [];
    for (const { event: e, payloadText } of events) {
      if (known.has(e.key)) continue;
      known.add(e.key);
      const fields = { seq: seq + 1, key: e.key, ts: e.ts, type: e.type, version: e.version, runId: e.runId, task: e.task, agent: e.agent, project: e.project, taskType: e.taskType, prevHash };
      const hash = eventHashOfText(fields, payloadText, key);
      rows.push({ event: { ...fields, payload: e.payload, hash }, payloadText });
      seq = fields.seq;
      prevHash = hash;
    }
    if (rows.length === 0) {
      s.query('COMMIT');
      return 0;
    }
    s.batch([
      insertEvents(rows),
      { sql: `UPDATE ${SCHEMA}.log_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1`, params: [seq, prevHash, headMac(key, seq, prevHash)] },
      { sql: 'COMMIT' },
    ]);
    writeLocalCheckpoint(checkpointDir, target.schema.logId!, key, { seq, hash: prevHash });
    return rows.length;
  } catch (error) {
    try {
      s.query('ROLLBACK');
    } catch {
      // The connection may be gone; the server rolls back on its own then.
    }
    throw error;
  }
}

