/**
 * Authentication of a PostgreSQL log, settled when it opens. The log is shared by a team, so its key is
 * the team's: every machine that appends or verifies holds the same 32 bytes (provisioned by the team,
 * never created here; see {@link readTeamKey}). Every event is keyed from sequence 1 (there is no legacy
 * prefix in a PostgreSQL log).
 *
 * Two checkpoints vouch for the head:
 * - the head row inside the database (`agentctl.log_head`: seq, hash, HMAC-SHA256 as integrity.ts
 *   computes a checkpoint's), moved by every append in the same transaction;
 * - a local checkpoint per machine (`$AGENTCTL_HOME/stores/<log id>.checkpoint`, integrity.ts's format),
 *   the newest head this machine saw: whoever controls the database but not the key can roll both the
 *   events and the head row back to an older authentic state, which only a machine that saw more notices.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ConfigError } from '../../core/errors.js';
import { GENESIS_HASH, eventHash, type StoredEvent } from '../events.js';
import { authentic, checkpointMac, readCheckpoint, writeCheckpoint, type CheckpointFile } from '../integrity.js';
import { readLogKey } from '../key.js';
import { sameDigest } from '../canonical.js';

/** In a PostgreSQL log every event is keyed. */
export const PG_KEYED_FROM = 1;

/** The head row as stored. */
export interface HeadRow {
  seq: number;
  hash: string;
  mac: string | null;
}

/** The authentication code of the head row (a checkpoint's, integrity.ts). */
export function headMac(key: KeyObject, seq: number, hash: string): string {
  return checkpointMac(key, { seq, hash, keyedFrom: PG_KEYED_FROM });
}

/** Whether the head row is authentic: the empty head (seq 0, genesis hash, no code), or one whose code verifies. */
export function headAuthentic(key: KeyObject, h: HeadRow): boolean {
  if (h.seq === 0) return h.hash === GENESIS_HASH && h.mac === null;
  return h.mac !== null && sameDigest(h.mac, headMac(key, h.seq, h.hash));
}

const PROVISION_HINT = (keyFile: string) =>
  `Every machine of the team needs the same key. On the first machine: umask 077; mkdir -p "$(dirname ${keyFile})"; head -c 32 /dev/urandom > ${keyFile}; ` +
  `then copy it to the others through your secret store (0600, folder 0700), or point AGENTCTL_LOG_KEY_FILE at where it is kept.`;

/**
 * Read the team key.
 * @param keyFile AGENTCTL_LOG_KEY_FILE, else `$AGENTCTL_HOME/keys/team.key`
 * @throws ConfigError when it is missing (with how to provision it), or fails key.ts's checks (mode, size, link)
 */
export function readTeamKey(keyFile: string, store: string): KeyObject {
  const key = readLogKey(keyFile);
  if (!key) throw new ConfigError(`the shared event log ${store} needs the team's log key, and ${keyFile} does not exist; nothing was recorded`, { hint: PROVISION_HINT(keyFile) });
  return key;
}

/** Path of this machine's checkpoint file base for a log (integrity.ts appends `.checkpoint`). */
export function localCheckpointBase(checkpointDir: string, logId: string): string {
  return join(checkpointDir, logId);
}

/** Read this machine's checkpoint of a log. */
export function readLocalCheckpoint(checkpointDir: string, logId: string): CheckpointFile {
  return readCheckpoint(localCheckpointBase(checkpointDir, logId));
}

/** Move this machine's checkpoint forward to `head` (never backwards). */
export function writeLocalCheckpoint(checkpointDir: string, logId: string, key: KeyObject, head: { seq: number; hash: string }): void {
  mkdirSync(checkpointDir, { recursive: true, mode: 0o700 });
  writeCheckpoint(localCheckpointBase(checkpointDir, logId), key, { ...head, keyedFrom: PG_KEYED_FROM });
}

/** What the store reads to check its head at open. */
export interface PgLogReader {
  head(): HeadRow;
  /** The newest event, if any. */
  top(): StoredEvent | undefined;
  /** Events with seq >= `from`, in order. */
  from(seq: number): StoredEvent[];
}

function tampered(store: string, what: string): ConfigError {
  return new ConfigError(`the shared event log ${store} fails authentication: ${what}; nothing was recorded`, { hint: 'Inspect it with: agentctl audit verify' });
}

/**
 * Check the log at open: the head row is authentic and matches the newest event, this machine's
 * checkpoint is authentic and not ahead of the head, and every event since it carries the key's code.
 * Cost: the events appended since this machine last opened the log (all of them the first time).
 * @returns the head, for the caller to move the local checkpoint to
 * @throws ConfigError naming the first problem
 */
export function checkPgHead(store: string, key: KeyObject, local: CheckpointFile, log: PgLogReader): { seq: number; hash: string } {
  const head = log.head();
  if (!headAuthentic(key, head)) throw tampered(store, 'its head row is not authenticated by the team key (it was edited, or the key is not the one the log was written with)');
  const top = log.top();
  if ((top?.seq ?? 0) !== head.seq || (top?.hash ?? GENESIS_HASH) !== head.hash) {
    throw tampered(store, `its newest event (#${top?.seq ?? 0}) does not match its head row (#${head.seq}): events were removed or inserted around agentctl`);
  }
  if (local.kind !== 'none') {
    const cp = authentic(local, key);
    if (!cp) throw tampered(store, "this machine's checkpoint of it is not authenticated by the team key (the key was changed, or the checkpoint edited)");
    if (cp.seq > head.seq) throw tampered(store, `it ends at #${head.seq}, but this machine saw it at #${cp.seq}: it was truncated or rolled back`);
    const tail = log.from(Math.max(cp.seq, 1));
    if (cp.seq > 0 && (tail[0]?.seq !== cp.seq || tail[0]?.hash !== cp.hash)) throw tampered(store, `event #${cp.seq} no longer matches this machine's checkpoint: the log was rewritten`);
    checkTail(store, key, tail, cp.seq);
    return head;
  }
  checkTail(store, key, log.from(1), 0);
  return head;
}

/**
 * Verify `tail`: events in order from `startSeq` (whose hash a checkpoint vouches for) or from 1 when
 * `startSeq` is 0; each links to the one before and carries the key's HMAC-SHA256.
 */
function checkTail(store: string, key: KeyObject, tail: StoredEvent[], startSeq: number): void {
  let prev = startSeq === 0 ? GENESIS_HASH : tail[0]!.hash;
  const rest = startSeq === 0 ? tail : tail.slice(1);
  for (const [i, e] of rest.entries()) {
    if (e.seq !== startSeq + 1 + i) throw tampered(store, `sequence ${startSeq + 1 + i} is missing`);
    if (e.prevHash !== prev) throw tampered(store, `event #${e.seq} does not link to the event before it`);
    const { hash, ...fields } = e;
    if (eventHash(fields, key) !== hash) throw tampered(store, `event #${e.seq} was not written with the team key (its HMAC-SHA256 does not match): forged or edited`);
    prev = hash;
  }
}
