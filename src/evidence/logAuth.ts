/**
 * Which key authenticates a log, and from which sequence: settled once when the store opens.
 *
 * The states of (key file, checkpoint) and what opening does:
 * - key + checkpoint authenticated by it: the log is keyed from the checkpoint's `keyedFrom`; the tail
 *   since the checkpoint is verified (cheap: usually nothing or one event) before anything is read;
 * - no key + no checkpoint, or a legacy `{seq, hash}` checkpoint: a fresh log, or one written before
 *   logs were keyed. Under the database's write lock the key is created, and an authenticated
 *   checkpoint recording the head and `keyedFrom = head + 1` is written before the key is published:
 *   from then on the legacy prefix can no longer be rewritten (the head hash is authenticated) and no
 *   event past it can be legacy;
 * - anything else fails closed (ConfigError): a key beside a missing, legacy or forged checkpoint (the
 *   log was rebuilt), a keyed checkpoint without its key (never re-keyed: a new key would bless
 *   whatever the log holds), a newest event that is not legacy while there is no key.
 * Residual risk, by design: whoever can write the key's folder can replace the key and everything with
 * it; keeping that folder out of every agent's reach is the OS sandbox's job.
 */
import type { KeyObject } from 'node:crypto';
import { ConfigError } from '../core/errors.js';
import { GENESIS_HASH, eventHash, type ChainAuth, type StoredEvent } from './events.js';
import { checkpointPath, authentic, readCheckpoint, readCheckpointFor, writeCheckpoint } from './integrity.js';
import { adoptPendingKey, createLogKey, readLogKey } from './key.js';

/** The authentication a store appends with. */
export interface LogAuth extends ChainAuth {
  key: KeyObject;
  keyedFrom: number;
}

/** Reads the store needs (kept as functions so this module holds no SQL). */
export interface LogReader {
  /** The newest event, if any. */
  head(): StoredEvent | undefined;
  /** Events with seq >= `from`, in order. */
  from(seq: number): StoredEvent[];
  /** Run `fn` holding the database's write lock (BEGIN IMMEDIATE). */
  locked<T>(fn: () => T): T;
}

const HINT = 'Inspect the log with: agentctl audit verify';

function tampered(file: string, what: string, hint = HINT): ConfigError {
  return new ConfigError(`the event log ${file} fails authentication: ${what}; nothing was recorded`, { hint });
}

/**
 * Settle the log's key and keyed sequence, creating the key on a log's first use.
 * @param file database file (its checkpoint is `<file>.checkpoint`)
 * @param keyFile the installation's key file
 * @returns the key and the first keyed sequence
 * @throws ConfigError in every fail-closed state listed in the module comment, or when the tail since
 *   the checkpoint does not verify
 */
export function establishLogAuth(file: string, keyFile: string, log: LogReader): LogAuth {
  const auth = settled(file, keyFile) ?? log.locked(() => settled(file, keyFile) ?? keyTheLog(file, keyFile, log));
  checkTail(file, auth, log);
  return auth;
}

/** The key and keyed sequence when both are in place, else undefined (the log must be keyed first). */
function settled(file: string, keyFile: string): LogAuth | undefined {
  let key = readLogKey(keyFile);
  const cp = readCheckpointFor(file, key);
  if (!key && cp.kind === 'keyed') {
    // Its creator may publish it (and drop the pending name) between our two looks: read the final name again.
    key = adoptPendingKey(keyFile, (k) => authentic(cp, k) !== undefined) ?? readLogKey(keyFile);
    if (!key) throw tampered(file, `its key ${keyFile} is missing, but the log was authenticated with a key from sequence ${cp.keyedFrom}; agentctl will not make a new key for a keyed log`, `Restore ${keyFile} from a backup. ${HINT}`);
  }
  if (!key) {
    if (cp.kind === 'unreadable') throw tampered(file, `its checkpoint ${checkpointPath(file)} is unreadable (${cp.reason})`);
    return undefined;
  }
  const ok = authentic(cp, key);
  if (ok) return { key, keyedFrom: ok.keyedFrom };
  const why = cp.kind === 'keyed' ? "its checkpoint's authentication code does not match the installation key (it was replaced or edited)" : cp.kind === 'none' ? 'its checkpoint is missing although the installation has a log key' : cp.kind === 'legacy' ? 'its checkpoint is unauthenticated although the installation has a log key' : `its checkpoint is unreadable (${cp.reason})`;
  throw tampered(file, why, `${HINT}. To start a new, empty log deliberately, move away the database, its checkpoint and ${keyFile} together.`);
}

/** Key a fresh or legacy log (caller holds the write lock). */
function keyTheLog(file: string, keyFile: string, log: LogReader): LogAuth {
  const head = log.head();
  const cp = readCheckpoint(file);
  if (head) {
    const { hash, ...rest } = head;
    if (eventHash(rest) !== hash) throw tampered(file, `its newest event #${head.seq} is not a legacy (sha256) event, yet there is no key ${keyFile}: the key was lost or the log was forged`, `Restore ${keyFile} from a backup. ${HINT}`);
  }
  if (cp.kind === 'legacy') {
    const at = cp.seq === head?.seq ? head : log.from(cp.seq)[0];
    if (!head || cp.seq > head.seq || !at || at.seq !== cp.seq || at.hash !== cp.hash) throw tampered(file, `its legacy checkpoint (#${cp.seq}) does not match the log: it was truncated or rewritten`);
  }
  const state = { seq: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH, keyedFrom: (head?.seq ?? 0) + 1 };
  // The checkpoint that says "keyed from here" is on disk before the key takes its name, so a crash
  // leaves either the old state or a pending key that adoptPendingKey finishes publishing.
  const { key, created } = createLogKey(keyFile, (k) => writeCheckpoint(file, k, state, true));
  if (!created) writeCheckpoint(file, key, state, true);
  return { key, keyedFrom: state.keyedFrom };
}

/**
 * Verify what the checkpoint does not yet cover: the checkpointed event still has its hash, and every
 * event after it (appended since, by this installation) carries the key's HMAC-SHA256.
 */
function checkTail(file: string, auth: LogAuth, log: LogReader): void {
  // Read again: another process may have appended (and moved the checkpoint) since it was settled.
  const cp = authentic(readCheckpointFor(file, auth.key), auth.key);
  if (!cp) throw tampered(file, "its checkpoint was replaced while it was being opened (its authentication code does not match the installation key)");
  const tail = log.from(Math.max(cp.seq, 1));
  const at = cp.seq === 0 ? undefined : tail[0];
  if (cp.seq > 0 && (!at || at.seq !== cp.seq || at.hash !== cp.hash)) {
    throw tampered(file, at || tail.length === 0 ? `event #${cp.seq} no longer matches the checkpoint (truncated, restored from an older copy, or rewritten)` : `event #${cp.seq} is missing`);
  }
  let prev = cp.seq === 0 ? GENESIS_HASH : cp.hash;
  for (const [i, e] of (cp.seq === 0 ? tail : tail.slice(1)).entries()) {
    if (e.seq !== cp.seq + 1 + i) throw tampered(file, `sequence ${cp.seq + 1 + i} is missing`);
    if (e.prevHash !== prev) throw tampered(file, `event #${e.seq} does not link to the event before it`);
    const { hash, ...rest } = e;
    if (eventHash(rest, e.seq >= auth.keyedFrom ? auth.key : undefined) !== hash) {
      throw tampered(file, `event #${e.seq} was not written by this installation (its HMAC-SHA256 does not match): forged or edited`);
    }
    prev = hash;
  }
}
