/**
 * The payload of every event type, one zod schema per payload version, derived from what the writers
 * write. Pure.
 *
 * - Writing: {@link checkPayload} validates a payload against the schema of its type's current version
 *   (EVENT_TYPES) before it is stored. Objects are strict: an unknown key (a renamed or misspelled field
 *   in a writer that bypassed the types) is refused, like a missing or mistyped one.
 * - Reading: {@link readPayload} parses a stored payload by the version it was written with and upgrades
 *   it (version n → n+1, {@link UPGRADES}) to the current shape. Unknown keys are tolerated on read (an
 *   old log may carry a field that was dropped since): only they are; any other mismatch throws.
 * - Free-form parts stay open (`z.unknown()`, records): a tool's input, what an agent wrote in a protocol
 *   file, the evidence and policy snapshots (their fields follow the trust rules and policies of the day).
 * - A field marked "since <commit>" was added to a version-1 payload after it shipped (without a new
 *   version), so an older event lacks it: it is defaulted to what the readers assumed (`.default()`:
 *   required of writers by the type, filled in on read), or optional where nothing can be assumed.
 *   Found by reading every writer's history (`git log -G "type: '"`) on 2026-11-29; a change to a
 *   payload from now on gets a new version and an upgrade instead.
 */
import * as z from 'zod';
import { InternalError } from '../core/errors.js';
import { AUTONOMY_LEVELS } from '../core/autonomy.js';
import { EVENT_TYPES, type EventType, type StoredEvent } from './events.js';
import type { BreakerName } from './projections/breakers.js';
import { PARSE_OPTIONS } from '../core/zodParse.js';

/**
 * Build every type's current schema. Run once, on the first validation or read of a payload (not when
 * the module loads): constructing ~50 zod schemas cost ~10 ms of every command's start, and a command
 * that reads no payload (`tasks` on a quiet log, `--help`) never needs them.
 */
function buildCurrent() {
  const str = z.string();
  const nullableStr = z.string().nullable();
  const num = z.number();
  const strings = z.array(z.string());
  const sandboxMode = z.enum(['os', 'none']);
  const openRecord = z.record(z.string(), z.unknown());
  // BREAKERS (projections/breakers.ts) spelled out: importing its value would make an import cycle.
  // `satisfies` and the record below fail to compile when the two lists differ.
  const breakerName = z.enum(['volume', 'cost', 'errors', 'scope'] satisfies BreakerName[]);
  void (breakerName.enum satisfies Record<BreakerName, string>);
  /** Whatever a process run left: exit code (null when signalled), signal name, timeout flag, wall time. */
  const processEnd = { exitCode: num.nullable(), signal: nullableStr, timedOut: z.boolean(), durationMs: num };
  // host (the machine a human acted from) since the PostgreSQL store: absent (null) in older events.
  const host = nullableStr.default(null);
  const byNote = z.strictObject({ by: str, host, note: nullableStr });

  // sandbox since 3995bc0; gates ran unconfined before it.
  const gatePayload = z.strictObject({ command: str, exitCode: num.nullable(), timedOut: z.boolean(), durationMs: num, output: str, sandbox: sandboxMode.default('none') });
  const setupStarted = { command: str, index: num, of: num, sandbox: sandboxMode };
  const trustChange = { agent: str, project: str, taskType: str, from: str, to: str, by: str, host, evidence: openRecord };

  /** Schemas of the current version of each type (every type is at version 1 today). */
  return {
    'run.planned': z.strictObject({
      title: str,
      taskFile: str,
      requestedBy: nullableStr.default(null), // since 6910af0
      requested: z.enum(AUTONOMY_LEVELS),
      effective: z.enum(AUTONOMY_LEVELS),
      reasons: strings,
      profiles: strings,
      claim: z.boolean(),
      repoRoot: str,
      baseBranch: str,
      baseSha: str,
      gate: nullableStr,
      timeoutMs: num.nullable(),
      // Since 3995bc0: a run logged before every run was confined reads as unconfined (it earns nothing).
      sandbox: sandboxMode.default('none'),
      // Since 5293085; 0 = owner unknown (crash recovery treats the run as orphaned).
      ownerPid: num.default(0),
      ownerStart: nullableStr.default(null),
      // ownerHost since the shared PostgreSQL store: a pid means nothing on another machine (null before).
      ownerHost: nullableStr.default(null),
      // Since the run queue: the queue job a worker ran this run for (its id and attempt), absent otherwise.
      // Recovery closes the run when that job's lease is lost (orchestrator/queue/lease.ts).
      queueJob: z.strictObject({ queue: str, id: str, attempt: num, leaseSeconds: num }).optional(),
    }),
    'sandbox.created': z.strictObject({ path: str, branch: str, baseSha: str, gitDir: nullableStr.default(null) /* since 3995bc0 */, recovered: z.literal(true).optional() }),
    // sandbox, sandboxSource since 3995bc0 (before it, an opt-in `osSandbox` field, dropped on read).
    'policy.rendered': z.strictObject({ tool: str, files: strings, args: strings, sandbox: sandboxMode.optional(), sandboxSource: str.optional(), policy: openRecord }),
    // pid, pidStart since 5293085; sandbox since 3995bc0 (unknown before: the OS sandbox was opt-in).
    'agent.launched': z.strictObject({ bin: str, args: strings, interactive: z.boolean(), timeoutMs: num.nullable(), pid: num.nullable().default(null), pidStart: nullableStr.default(null), sandbox: sandboxMode.optional() }),
    'agent.message': z.strictObject({ text: str, kind: z.literal('reasoning').optional(), severity: str.optional() }),
    'tool.called': z.strictObject({ id: str, tool: str, input: z.unknown(), path: str.optional() }),
    'tool.result': z.strictObject({ id: str, isError: z.boolean(), output: str, exitCode: num.nullable().optional() }),
    'permission.denied': z.strictObject({ tool: str, id: str, input: z.unknown() }),
    'file.changed': z.strictObject({ path: str, tool: str, kind: str.optional() }),
    'agent.usage': z.strictObject({ inputTokens: num, outputTokens: num, costUsd: num.nullable(), turns: num.nullable() }),
    'agent.exited': z.strictObject({
      ...processEnd,
      interrupted: z.boolean(),
      stoppedBy: z.strictObject({ kind: z.enum(['halted', 'breaker', 'escalated', 'low-confidence']), reason: str }).nullable().default(null), // since 6910af0
      summary: nullableStr,
      error: nullableStr,
      /** The tool's session id from its own stream (a plain id), for request-changes to resume; since request-changes. */
      sessionId: nullableStr.default(null),
    }),
    'sandbox.committed': z.strictObject({
      headSha: str,
      // Lines are -1 for a binary file. A file's bytes and mode since 6385728, the total bytes since 9324236:
      // unknown (not 0) in older logs.
      files: z.array(z.strictObject({ path: str, insertions: num, deletions: num, bytes: num.optional(), mode: str.optional() })),
      // Every changed file, when `files` lists only the first MAX_RECORDED_FILES (since the cap; absent:
      // `files` is all of them). insertions, deletions and bytes count every file either way.
      fileCount: num.optional(),
      insertions: num,
      deletions: num,
      bytes: num.optional(),
      branchRepaired: z.strictObject({ from: nullableStr }).nullable().default(null), // since 5293085
    }),
    // `more`: violations found beyond the MAX_RECORDED_VIOLATIONS recorded one by one, on the last one recorded (since the cap).
    'scope.violation': z.strictObject({ path: str, reason: str, protected: z.boolean(), more: num.optional() }),
    'gate.passed': gatePayload,
    'gate.failed': gatePayload,
    'run.decided': z.strictObject({ outcome: z.enum(['merge', 'review', 'failed']), reasons: strings }),
    // step: pipeline, sandbox, bootstrap, setup or agent (a string, so a new stage needs no new version).
    // attempt since request-changes (a failure of attempt 2, 3, …); absent for the first attempt.
    'run.failed': z.strictObject({ step: str, error: str, attempt: num.optional() }),
    'run.interrupted': z.strictObject({ reason: str, recovered: z.literal(true).optional(), killedAgent: z.boolean().optional() }),
    'review.approved': byNote,
    'review.rejected': z.strictObject({ by: str, host, reason: nullableStr }),
    // strategy since 5293085 (a merge commit was the only one before).
    'run.merged': z.strictObject({ mergeSha: str, baseBranch: str, by: str, host, auto: z.boolean(), strategy: z.enum(['merge', 'rebase']).default('merge') }),
    // headSha: null in logs before 5293085 when the worktree had no head.
    'run.discarded': z.strictObject({ by: str, host, reason: nullableStr, archiveRef: nullableStr, headSha: nullableStr }),
    'sandbox.removed': z.strictObject({ path: str, reason: str.optional(), movedTo: str.optional(), branchKept: nullableStr.optional(), branchDeleted: nullableStr.optional() }),
    // forced, missing since bb48606.
    'trust.promoted': z.strictObject({ ...trustChange, note: nullableStr, forced: z.boolean().default(false), missing: strings.default([]) }),
    'trust.demoted': z.strictObject({ ...trustChange, reason: str }),
    'escalation.attempted': z.union([
      // A tool call aimed at a protected path (the adapters' parsed stream).
      z.strictObject({ tool: str, path: str, rule: str }),
      z.strictObject({ kind: z.literal('git-pointer'), tool: z.literal('git').optional(), path: str, found: nullableStr, expected: str, restored: z.literal(true) }),
      z.strictObject({
        kind: z.literal('git-control'),
        tool: z.literal('git'),
        path: str,
        changes: z.array(z.strictObject({ path: str, change: str, detail: str.optional() })),
        restored: z.literal(true),
      }),
    ]),
    'regression.detected': z.strictObject({ kind: z.literal('revert'), commit: str, subject: str }),
    'review.followup': z.strictObject({ commit: str, subject: str, files: strings }),
    'breaker.tripped': z.strictObject({ breaker: breakerName, agent: str, project: str, reason: str }),
    'merge.failed': z.strictObject({ reason: str, auto: z.boolean() }),
    'sandbox.restored': z.strictObject({ path: str, branch: str, headSha: str, gitDir: nullableStr.default(null) /* since 0361df4 */ }),
    'gc.repaired': z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('lost-folder'), path: str, movedTo: str }),
      z.strictObject({ kind: z.literal('missing-folder'), path: str, branch: nullableStr }),
      z.strictObject({ kind: z.literal('orphan-branch'), branch: str, archiveRef: str }),
    ]),
    'breaker.reset': z.strictObject({ breaker: breakerName, agent: str, project: str, by: str, host, note: nullableStr }),
    'agent.stragglers': z.strictObject({ killed: num, pids: z.array(num) }),
    'system.halted': z.strictObject({ by: str, host, reason: str }),
    'system.resumed': byNote,
    'notification.failed': z.strictObject({ target: str, kind: str, error: str, eventSeq: num }),
    'audit.sampled': z.strictObject({ probability: num, roll: num, changedLines: num, sensitive: z.boolean() }),
    'audit.agreed': byNote,
    'audit.disagreed': byNote,
    // One line of the agent's status.jsonl, as it wrote it (or `{invalid: text}`): untrusted and open.
    'agent.status': openRecord,
    'agent.reasoning': z.strictObject({
      // The agent's own words from trace.jsonl: any JSON value.
      observed: z.unknown(),
      considered: z.unknown(),
      decided: z.unknown(),
      confidence: num.nullable(),
      invalid: z.unknown().optional(),
    }),
    'agent.escalated': z.strictObject({ source: z.enum(['agent', 'confidence']), reason: z.unknown(), question: z.unknown() }),
    'agent.handover': z.strictObject({ text: str }),
    // A line of the agent's followups.jsonl (its fields are checked when the task is built, tasks.ts) plus
    // the parent run agentctl adds.
    'task.requested': z.object({ parentRun: str, parentTask: str, parentProfiles: strings }).catchall(z.unknown()),
    'review.agent_verdict': z.strictObject({ reviewer: str, verdict: z.enum(['approve', 'reject', 'none']), comments: str, exitCode: num.nullable(), timedOut: z.boolean() }),
    'worktree.bootstrapped': z.strictObject({
      linked: strings,
      copied: strings,
      skipped: strings,
      missing: strings,
      ports: z.strictObject({ first: num, count: num }),
      setup: strings,
      teardown: strings,
      network: strings,
    }),
    'setup.started': z.strictObject({ ...setupStarted, network: strings.nullable() }),
    'setup.finished': z.strictObject({ command: str, index: num, ...processEnd, output: str }),
    'teardown.started': z.strictObject(setupStarted),
    // Either the command ran (processEnd + output) or it could not start (`error`).
    // Request changes: a human's notes send the run back to its agent as attempt n (2, 3, …).
    'review.changes_requested': z.strictObject({ attempt: num, note: str, by: str, host, diffChars: num }),
    'run.attempt_started': z.strictObject({
      attempt: num,
      /** The tool session resumed (a plain id from the tool's own stream), or null for a fresh prompt. */
      resume: nullableStr,
      effective: str,
      reasons: strings,
      profiles: strings,
      sandbox: z.enum(['os', 'none']),
      ownerPid: num,
      ownerStart: nullableStr,
      ownerHost: nullableStr.default(null),
    }),
    // A human queued a run of `task` for the team's workers (`run --queue`): the queue job's id.
    'queue.enqueued': z.strictObject({ jobId: str, queue: str, by: str, host, baseBranch: str }),
    'teardown.finished': z.strictObject({
      command: str,
      index: num,
      exitCode: num.nullable(),
      signal: nullableStr.optional(),
      timedOut: z.boolean().optional(),
      durationMs: num.optional(),
      output: str.optional(),
      error: str.optional(),
    }),
  } satisfies { [T in EventType]: z.ZodType };
}

/** The schemas of the current version of each type. */
type Current = ReturnType<typeof buildCurrent>;
let current: Current | undefined;
const CURRENT = (): Current => (current ??= buildCurrent());

/** Payload type of each event type at its current version (what writers write and readers get). */
export type EventPayloads = { [T in EventType]: z.output<Current[T]> };

/** Schemas by event type and payload version. Old versions stay here so their events can still be read. */
export type SchemaRegistry = { [T in EventType]: Readonly<Record<number, z.ZodType>> };

/** Upgrades by event type: `from` version n → a payload of version n+1 (input already parsed by version n's schema). */
export type UpgradeRegistry = { [T in EventType]?: Readonly<Record<number, (payload: unknown) => unknown>> };

/** Every type's schemas, keyed by payload version. */
export const PAYLOAD_SCHEMAS: SchemaRegistry = lazyRegistry();

/** A registry whose entries are built on first read (see {@link buildCurrent}); each entry, once built, stays the same object. */
function lazyRegistry(): SchemaRegistry {
  const built = new Map<EventType, Readonly<Record<number, z.ZodType>>>();
  const entry = (t: EventType) => {
    let e = built.get(t);
    if (!e) built.set(t, (e = { [EVENT_TYPES[t]]: CURRENT()[t] }));
    return e;
  };
  const registry = {};
  for (const t of Object.keys(EVENT_TYPES) as EventType[]) Object.defineProperty(registry, t, { enumerable: true, get: () => entry(t) });
  return registry as SchemaRegistry;
}

/** Upgrade chain per type. Empty today: every type is at its first version. */
export const UPGRADES: UpgradeRegistry = {};

/** A zod issue path as text (`files[2].path`), or `(payload)` for the payload itself. */
function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(payload)';
}

function issuesText(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.code === 'unrecognized_keys' ? `${pathText([...i.path, ...(i.keys.length === 1 ? i.keys : [])])}: unknown field${i.keys.length > 1 ? `s ${i.keys.join(', ')}` : ''}` : `${pathText(i.path)}: ${i.message}`))
    .join('; ');
}

/**
 * Check a payload about to be written against its type's current schema. Always on: it costs 1.5–7 µs
 * per event (zod 4, measured on the 2-core dev machine), against ~80 µs per event for a raw batched
 * better-sqlite3 insert with synchronous=FULL on the same machine.
 * @throws InternalError naming the type and the field path (a writer is wrong: this is a bug)
 */
export function checkPayload(type: EventType, payload: unknown, schemas: SchemaRegistry = PAYLOAD_SCHEMAS): void {
  const problem = payloadProblem(type, payload, schemas);
  if (problem !== undefined) throw new InternalError(`event ${type} has a bad payload: ${problem}; nothing was recorded`);
}

/**
 * What is wrong with a payload for its type's current schema, without throwing: for events built from
 * what an agent printed, which may be anything (see adapters/admit.ts).
 * @returns up to five problems, each naming its field path, in one line; undefined when the payload is valid
 * @throws InternalError for a type this version does not know (a writer's bug)
 */
export function payloadProblem(type: EventType, payload: unknown, schemas: SchemaRegistry = PAYLOAD_SCHEMAS): string | undefined {
  const schema = schemas[type]?.[EVENT_TYPES[type]];
  if (!schema) throw new InternalError(`unknown event type ${String(type)}`);
  const r = schema.safeParse(payload, PARSE_OPTIONS);
  return r.success ? undefined : issuesText(r.error.issues);
}

/**
 * Read a stored payload: parse it by the version it was written with, then upgrade it step by step to
 * the type's current version. Unknown keys are tolerated (and dropped from the result); any other
 * mismatch throws. Defaults of fields absent in older logs are filled in.
 * @param type the event's type (must be one of EVENT_TYPES)
 * @param version the payload version stored with the event
 * @throws InternalError for an unknown type, a version newer than this agentctl knows or without a
 *   schema or upgrade, or a payload that does not match its version's schema
 */
export function readPayload<T extends EventType>(type: T, version: number, payload: unknown, registry: { schemas: SchemaRegistry; upgrades: UpgradeRegistry } = { schemas: PAYLOAD_SCHEMAS, upgrades: UPGRADES }): EventPayloads[T] {
  const current = EVENT_TYPES[type] as number | undefined;
  if (current === undefined) throw new InternalError(`unknown event type ${String(type)}`);
  if (version > current) throw new InternalError(`event ${type} has payload version ${version}, newer than this agentctl reads (${current}): upgrade agentctl`);
  let value = payload;
  for (let v = version; ; v++) {
    const schema = registry.schemas[type][v];
    if (!schema) throw new InternalError(`event ${type} payload version ${v} has no schema`);
    value = parseLenient(type, v, schema, value);
    if (v === current) return value as EventPayloads[T];
    const up = registry.upgrades[type]?.[v];
    if (!up) throw new InternalError(`event ${type} payload version ${v} has no upgrade to ${v + 1}`);
    value = up(value);
  }
}

/** Parse, accepting unknown keys (and only those) beyond the strict schema. */
function parseLenient(type: string, version: number, schema: z.ZodType, value: unknown): unknown {
  const r = schema.safeParse(value, PARSE_OPTIONS);
  if (r.success) return r.data;
  if (r.error.issues.every((i) => i.code === 'unrecognized_keys')) {
    // Every other field checked out: drop the unknown ones and parse again for defaults.
    const again = schema.safeParse(withoutKeys(value, r.error.issues), PARSE_OPTIONS);
    if (again.success) return again.data;
  }
  throw new InternalError(`event ${type} (payload version ${version}) does not match its schema: ${issuesText(r.error.issues)}`);
}

/** A copy of `value` without the unrecognized keys the issues name (at their paths). */
function withoutKeys(value: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(value) as Record<PropertyKey, unknown>;
  for (const i of issues) {
    if (i.code !== 'unrecognized_keys') continue;
    let at: unknown = copy;
    for (const p of i.path) at = (at as Record<PropertyKey, unknown> | undefined)?.[p];
    if (at && typeof at === 'object') for (const k of i.keys) delete (at as Record<string, unknown>)[k];
  }
  return copy;
}

/** A stored event whose payload is typed by its `type`: switch on `type` to narrow `payload`. */
export type TypedEvent = { [T in EventType]: Omit<StoredEvent, 'type' | 'payload'> & { type: T; payload: EventPayloads[T] } }[EventType];

/** Is `e` of type `type`? (Narrows `e.type`; read its payload with {@link payloadOf}.) */
export function isEvent<T extends EventType>(e: StoredEvent, type: T): e is StoredEvent & { type: T } {
  return e.type === type;
}

/**
 * The payload of a stored event of type `type`, parsed by its stored version and upgraded to the current one.
 * @throws InternalError when the event is of another type or its payload does not match (see {@link readPayload})
 */
export function payloadOf<T extends EventType>(e: StoredEvent, type: T): EventPayloads[T] {
  if (e.type !== type) throw new InternalError(`event ${e.seq} is ${e.type}, not ${type}`);
  try {
    return readPayload(type, e.version, e.payload);
  } catch (error) {
    throw new InternalError(`event ${e.seq}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A stored event with its payload parsed and typed (see {@link payloadOf}).
 * @throws InternalError for a type this agentctl does not know, or a payload that does not match
 */
export function typed(e: StoredEvent): TypedEvent {
  if (!Object.hasOwn(EVENT_TYPES, e.type)) throw new InternalError(`event ${e.seq} has unknown type ${e.type}`);
  return { ...e, payload: payloadOf(e, e.type as EventType) } as TypedEvent;
}

/**
 * Payload type of each event type as stored at its current version: what the writers wrote (z.input), so
 * a field older events lack (`.default()` on read) is optional here and the reader decides what it means.
 */
export type StoredPayloads = { [T in EventType]: z.input<Current[T]> };

/** A stored event typed by its `type`, its payload as stored: switch on `type` to narrow `payload`. */
export type StoredTypedEvent = { [T in EventType]: Omit<StoredEvent, 'type' | 'payload'> & { type: T; payload: StoredPayloads[T] } }[EventType];

/**
 * A stored event typed by its `type`, without parsing a payload of the current version: for folds that
 * read every event (projections), where parsing would cost more than the fold. Sound because the payload
 * was checked against that version's schema when it was appended ({@link checkPayload}, and the history
 * of version-1 writers for events older than that, see the file's head) and the chain authenticates it.
 * A payload of an older version is parsed and upgraded ({@link readPayload}).
 * @returns the event, typed; undefined for a type this agentctl does not know (a fold skips it)
 * @throws InternalError as {@link readPayload} for an older version that does not parse
 */
export function storedView(e: StoredEvent): StoredTypedEvent | undefined {
  if (!Object.hasOwn(EVENT_TYPES, e.type)) return undefined;
  const type = e.type as EventType;
  if (e.version === EVENT_TYPES[type]) return e as unknown as StoredTypedEvent;
  return { ...e, payload: readPayload(type, e.version, e.payload) } as StoredTypedEvent;
}

/**
 * The payloads of the events of `type` in `list`, typed as stored and not parsed (see {@link storedView}):
 * for readers that go through days of events on every command (the breakers' windows).
 * @returns the payloads in list order
 * @throws InternalError as {@link storedView}
 */
export function storedPayloads<T extends EventType>(list: readonly StoredEvent[], type: T): StoredPayloads[T][] {
  const out: StoredPayloads[T][] = [];
  for (const e of list) {
    if (e.type !== type) continue;
    const view = storedView(e);
    if (view) out.push(view.payload as StoredPayloads[T]);
  }
  return out;
}
