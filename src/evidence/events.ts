/**
 * Events: immutable facts in the log. Serializable records only (no live objects). Pure.
 */
import type { KeyObject } from 'node:crypto';
import { InternalError } from '../core/errors.js';
import { canonicalJson, hmacSha256, sha256 } from './canonical.js';
import type { EventPayloads } from './eventSchemas.js';

/** Every event type agentctl writes, with its payload version. A reader that meets another type fails closed. */
export const EVENT_TYPES = {
  'run.planned': 1,
  'sandbox.created': 1,
  'policy.rendered': 1,
  'agent.launched': 1,
  'agent.message': 1,
  'tool.called': 1,
  'tool.result': 1,
  'permission.denied': 1,
  'file.changed': 1,
  'agent.usage': 1,
  'agent.exited': 1,
  'sandbox.committed': 1,
  'scope.violation': 1,
  'gate.passed': 1,
  'gate.failed': 1,
  'run.decided': 1,
  'run.failed': 1,
  'run.interrupted': 1,
  'review.approved': 1,
  'review.rejected': 1,
  'run.merged': 1,
  'run.discarded': 1,
  'sandbox.removed': 1,
  'trust.promoted': 1,
  'trust.demoted': 1,
  'escalation.attempted': 1,
  'regression.detected': 1,
  'review.followup': 1,
  'breaker.tripped': 1,
  'merge.failed': 1,
  'sandbox.restored': 1,
  'gc.repaired': 1,
  'breaker.reset': 1,
  'agent.stragglers': 1,
  'system.halted': 1,
  'system.resumed': 1,
  'notification.failed': 1,
  'audit.sampled': 1,
  'audit.agreed': 1,
  'audit.disagreed': 1,
  'agent.status': 1,
  'agent.reasoning': 1,
  'agent.escalated': 1,
  'agent.handover': 1,
  'task.requested': 1,
  'review.agent_verdict': 1,
  'worktree.bootstrapped': 1,
  'setup.started': 1,
  'setup.finished': 1,
  'teardown.started': 1,
  'teardown.finished': 1,
  'review.changes_requested': 1,
  'run.attempt_started': 1,
  'queue.enqueued': 1,
} as const;

export type EventType = keyof typeof EVENT_TYPES;

/** The subject of an event: which run, task, agent, project and task type it is about. */
export interface EventSubject {
  runId?: string | undefined;
  task?: string | undefined;
  agent?: string | undefined;
  project?: string | undefined;
  taskType?: string | undefined;
}

/** An event of type `T` to append, without its subject. `key` makes appends idempotent (same key → not written twice). */
export interface EventOf<T extends EventType> {
  type: T;
  /** Checked against the type's schema when appended (eventSchemas.ts). */
  payload: EventPayloads[T];
  /** Idempotency key; default: a random one. */
  key?: string;
  /** ISO-8601 time; default: now. */
  ts?: string;
}

/** Any event without its subject: a union discriminated by `type`, so each payload is checked against its own type. */
export type EventBody = { [T in EventType]: EventOf<T> }[EventType];

/** An event to append: its subject and body. */
export type EventInput = EventSubject & EventBody;

/** An event as stored: sequence number, chain hashes and the canonical payload. */
export interface StoredEvent extends EventSubject {
  seq: number;
  key: string;
  ts: string;
  type: string;
  version: number;
  payload: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** Hash of the empty chain (the `prevHash` of event 1). */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Chain hash of an event, 64 hex characters. The hashed text is `prevHash + "\n" +` the canonical JSON of
 * every stored field but the hashes.
 * @param key the installation's log key: the hash is then HMAC-SHA256(key, text), which nobody without the
 *   key can compute; without a key it is the plain sha256(text) of a legacy event (written before logs
 *   were keyed), which anybody can recompute
 */
export function eventHash(e: Omit<StoredEvent, 'hash'>, key?: KeyObject): string {
  return eventHashOfText(e, canonicalJson(e.payload), key);
}

/** Strings JSON.stringify leaves as they are between quotes: no quote, backslash, control character or surrogate. */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** canonicalJson of a member value, with the common case (a plain string, as ids and times are) shortcut. */
const json = (value: unknown): string => (typeof value === 'string' && PLAIN.test(value) ? `"${value}"` : canonicalJson(value));

/** One `"name":value` member of the hashed object, or nothing for undefined (as canonicalJson drops it). */
const member = (name: string, value: unknown, first = false): string => (value === undefined ? '' : `${first ? '' : ','}"${name}":${json(value)}`);

/**
 * {@link eventHash} of an event whose payload is given as its canonical JSON text (as stored), so the
 * payload is neither parsed nor encoded again. The same text as eventHash hashes, built member by member
 * in canonicalJson's key order (agent, key, payload, project, runId, seq, task, taskType, ts, type,
 * version); equal to eventHash(e) whenever `payloadText === canonicalJson(e.payload)`.
 * @param e the event's stored fields (its `payload`, if any, is ignored)
 * @param payloadText the payload's canonical JSON text
 */
export function eventHashOfText(e: Omit<StoredEvent, 'hash' | 'payload'>, payloadText: string, key?: KeyObject): string {
  const text =
    e.key !== undefined && e.seq !== undefined && e.ts !== undefined && e.type !== undefined && e.version !== undefined
      ? `${e.prevHash}\n{"agent":${json(e.agent ?? null)},"key":${json(e.key)},"payload":${payloadText},"project":${json(e.project ?? null)},"runId":${json(e.runId ?? null)},"seq":${json(e.seq)},"task":${json(e.task ?? null)},"taskType":${json(e.taskType ?? null)},"ts":${json(e.ts)},"type":${json(e.type)},"version":${json(e.version)}}`
      : // A field missing from a damaged row is dropped, as canonicalJson drops undefined members.
        `${e.prevHash}\n{${member('agent', e.agent ?? null, true)}${member('key', e.key)},"payload":${payloadText}${member('project', e.project ?? null)}${member('runId', e.runId ?? null)}${member('seq', e.seq)}${member('task', e.task ?? null)}${member('taskType', e.taskType ?? null)}${member('ts', e.ts)}${member('type', e.type)}${member('version', e.version)}}`;
  return key ? hmacSha256(key, text) : sha256(text);
}

/**
 * How a chain is authenticated: which key, and from which sequence on events are keyed.
 * Events before `keyedFrom` are legacy (plain sha256); from `keyedFrom` on every event must carry the
 * HMAC-SHA256 of `key`. The authenticated checkpoint records `keyedFrom` (logAuth.ts).
 */
export interface ChainAuth {
  /** The installation's key; undefined when there is none (keyed events then cannot verify). */
  key: KeyObject | undefined;
  /**
   * First keyed sequence number. `undefined` when it is not known (the checkpoint is lost): each event
   * may then be legacy until the first keyed one, after which all must be keyed.
   */
  keyedFrom: number | undefined;
}

/** Result of checking the hash chain. */
export interface ChainCheck {
  ok: boolean;
  /** Events checked. */
  checked: number;
  /** First sequence number that does not verify, when not ok. */
  firstBadSeq: number | undefined;
  problem: string | undefined;
  /** First event that verified with the key (undefined: none did). */
  firstKeyedSeq: number | undefined;
}

/**
 * What {@link verifyChain} reads of an event: a StoredEvent, or a stored row with its payload still as
 * the stored text (`payloadText`, not parsed: verifying a large log then parses nothing it need not).
 */
export interface ChainLink extends Omit<StoredEvent, 'payload'> {
  payload?: Record<string, unknown> | undefined;
  payloadText?: string | undefined;
}

/** The link's hash recomputed from its contents, with canonicalJson's meaning: the payload parsed and encoded again. */
function contentHash(e: ChainLink, key: KeyObject | undefined): string | undefined {
  if (e.payloadText === undefined) return eventHash(e as StoredEvent, key);
  let payload: unknown;
  try {
    payload = JSON.parse(e.payloadText);
  } catch {
    return undefined; // not JSON: matches no hash
  }
  return eventHashOfText(e, canonicalJson(payload), key);
}

/**
 * Whether a link carries `key`'s authentication code. The stored text is hashed as it is first (what the
 * store wrote: canonical), and only when that differs is it parsed and encoded again, so the answer is
 * the one {@link contentHash} gives: a text that only the key's holder could have authenticated as it
 * is, is the canonical text the store writes.
 */
function keyedMatch(e: ChainLink, key: KeyObject): boolean {
  if (e.payloadText !== undefined && eventHashOfText(e, e.payloadText, key) === e.hash) return true;
  return contentHash(e, key) === e.hash;
}

/**
 * Verify a hash chain: sequence numbers 1..n without gaps, each prevHash equal to the previous hash,
 * each hash recomputed from the stored fields: plain sha256 before `auth.keyedFrom`, HMAC-SHA256 with
 * `auth.key` from it on. A keyed event links to the legacy one before it, so the legacy prefix is covered
 * by the first keyed event's authentication code. Reads `events` once, in order, keeping none of them
 * (constant memory with a streaming iterable), and stops at the first bad one.
 * @param events all events in sequence order, from seq 1 (StoredEvents, or rows with `payloadText`)
 * @param auth the key and the first keyed sequence (a store's `auth`, or from the checkpoint)
 */
export function verifyChain(events: Iterable<ChainLink>, auth: ChainAuth): ChainCheck {
  let prev = GENESIS_HASH;
  let expected = 1;
  let checked = 0;
  let firstKeyedSeq: number | undefined;
  const bad = (e: ChainLink, problem: string): ChainCheck => ({ ok: false, checked, firstBadSeq: e.seq, problem, firstKeyedSeq });
  for (const e of events) {
    if (e.seq !== expected) return { ok: false, checked, firstBadSeq: expected, problem: `sequence ${expected} is missing (found ${e.seq})`, firstKeyedSeq };
    if (e.prevHash !== prev) return bad(e, 'its previous-hash link does not match the event before it');
    const mustBeKeyed = auth.keyedFrom !== undefined ? e.seq >= auth.keyedFrom : firstKeyedSeq !== undefined;
    if (mustBeKeyed && !auth.key) return bad(e, 'it was authenticated with the installation key, and that key is missing');
    if (mustBeKeyed) {
      if (!keyedMatch(e, auth.key!)) return bad(e, "its authentication code does not match (HMAC-SHA256 with this installation's key): forged, edited or written with another key");
      firstKeyedSeq ??= e.seq;
    } else if (contentHash(e, undefined) !== e.hash) {
      if (auth.keyedFrom === undefined && auth.key && keyedMatch(e, auth.key)) firstKeyedSeq = e.seq;
      else return bad(e, auth.key ? "its hash matches neither its contents (legacy sha256) nor this installation's key" : 'its contents do not match its hash');
    }
    prev = e.hash;
    expected++;
    checked++;
  }
  return { ok: true, checked, firstBadSeq: undefined, problem: undefined, firstKeyedSeq };
}

/**
 * The next link of a log's chain: `input` stored after the event (`prev.seq`, `prev.hash`), its payload
 * as the canonical JSON text that is both stored and hashed (so what is hashed is exactly what is
 * stored and read back). The one definition both stores (SQLite, PostgreSQL) append with. Pure.
 * @param eventKey the event's idempotency key (the caller's, or a fresh random one)
 * @param ts ISO-8601 time of the append (used when `input.ts` is unset)
 * @param key the log key (HMAC-SHA256 chain)
 * @returns the stored event (its `payload` is the payload text parsed back) and its payload text
 * @throws InternalError for a type this version does not know
 */
export function chainEvent(input: EventInput, eventKey: string, prev: { seq: number; hash: string }, key: KeyObject, ts: string): { event: StoredEvent; payloadText: string } {
  const version = EVENT_TYPES[input.type];
  if (version === undefined) throw new InternalError(`unknown event type ${String(input.type)}`);
  const payloadText = canonicalJson(input.payload);
  // One object literal of a fixed shape (no spread of the input, no accessor: either costs more per
  // event than the HMAC), its hash filled in once the other fields are set.
  const event: StoredEvent = {
    seq: prev.seq + 1,
    key: eventKey,
    ts: input.ts ?? ts,
    type: input.type,
    version,
    runId: input.runId,
    task: input.task,
    agent: input.agent,
    project: input.project,
    taskType: input.taskType,
    prevHash: prev.hash,
    payload: JSON.parse(payloadText) as Record<string, unknown>,
    hash: '',
  };
  event.hash = eventHashOfText(event, payloadText, key); // reads every field but the payload
  return { event, payloadText };
}
