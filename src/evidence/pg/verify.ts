/**
 * `audit verify` for a PostgreSQL log: the same report as integrity.ts's verifyLog, from the schema's
 * triggers, the whole chain under the team key, the head row and this machine's checkpoint.
 */
import type { KeyObject } from 'node:crypto';
import { reporting, type ProgressFn } from '../../core/progress.js';
import { verifyChain, type StoredEvent } from '../events.js';
import { authentic, type CheckpointFile, type VerifyReport } from '../integrity.js';
import { PG_KEYED_FROM, headAuthentic, type HeadRow } from './auth.js';
import { PG_SCHEMA_VERSION, type PgSchemaState } from './schema.js';

/** A PostgreSQL log as verification reads it: all from one snapshot of the database. */
export interface PgLogView {
  /** The events in sequence order, read lazily (a page at a time: memory does not grow with the log). */
  events: Iterable<StoredEvent>;
  /** How many events there are. */
  count: number;
  /** The newest event's sequence and hash; undefined for an empty log. */
  newest: { seq: number; hash: string } | undefined;
  /** The hash of the event at sequence `seq`, or undefined when there is none. */
  hashAt(seq: number): string | undefined;
}

/**
 * Verify a PostgreSQL log.
 * @param schema what inspectPgSchema found
 * @param log the events and what is known of them, read from one snapshot
 * @param head the head row
 * @param key the team key (undefined when this machine has none)
 * @param local this machine's checkpoint of the log
 * @param onProgress told how many of the events were verified (every 10,000, and at the end)
 * @returns the report; `ok` only when every check passed
 */
export function verifyPgLog(schema: PgSchemaState, log: PgLogView, head: HeadRow | undefined, key: KeyObject | undefined, local: CheckpointFile, onProgress?: ProgressFn): VerifyReport {
  const problems: string[] = [];
  const schemaOk = schema.version === PG_SCHEMA_VERSION && schema.badTriggers.length === 0;
  if (schema.badTriggers.length) problems.push(`the events table's append-only triggers are missing or disabled (${schema.badTriggers.join(', ')}): tampering`);
  if (schema.version !== PG_SCHEMA_VERSION) problems.push(`schema version ${schema.version}, expected ${PG_SCHEMA_VERSION}`);
  if (!key) problems.push("the team's log key is missing on this machine, so the log cannot be verified (AGENTCTL_LOG_KEY_FILE)");
  const chain = verifyChain(reporting(log.events, log.count, onProgress), { key, keyedFrom: PG_KEYED_FROM });
  if (!chain.ok) problems.push(`hash chain broken at sequence ${chain.firstBadSeq}: ${chain.problem}`);
  let firstBad = chain.firstBadSeq;
  const last = log.newest;
  const top = last?.seq ?? 0;
  let checkpointOk = true;
  if (!head) {
    checkpointOk = false;
    problems.push('the head row is missing: tampering');
  } else {
    if (key && !headAuthentic(key, head)) {
      checkpointOk = false;
      problems.push("the head row's authentication code does not match the team key (HMAC-SHA256): it was edited");
    }
    if (head.seq !== top || (last && last.hash !== head.hash)) {
      checkpointOk = false;
      problems.push(`the head row names #${head.seq} but the newest event is #${top}: events were removed or inserted around agentctl`);
      firstBad ??= Math.min(head.seq, top) + 1;
    }
  }
  if (local.kind !== 'none' && key) {
    const cp = authentic(local, key);
    if (!cp) {
      checkpointOk = false;
      problems.push("this machine's checkpoint of the log is not authenticated by the team key");
    } else if (cp.seq > top) {
      checkpointOk = false;
      problems.push(`the log ends at #${top} but this machine saw it at #${cp.seq}: it was truncated or rolled back`);
      firstBad ??= top + 1;
    } else if (cp.seq > 0 && log.hashAt(cp.seq) !== cp.hash) {
      checkpointOk = false;
      problems.push(`event #${cp.seq} does not match this machine's checkpoint: the log was rewritten`);
      firstBad ??= cp.seq;
    }
  }
  const ok = problems.length === 0;
  return {
    ok,
    events: log.count,
    integrity: 'not applicable (PostgreSQL)',
    schemaOk,
    missingTriggers: schema.badTriggers,
    chainOk: chain.ok,
    checkpoint: head ? { seq: head.seq, hash: head.hash, keyedFrom: PG_KEYED_FROM } : undefined,
    checkpointOk,
    keyPresent: key !== undefined,
    authenticated: ok,
    keyedFrom: PG_KEYED_FROM,
    legacyEvents: 0,
    firstBadSeq: ok ? undefined : (firstBad ?? 1),
    problems,
  };
}
