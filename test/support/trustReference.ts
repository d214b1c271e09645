/**
 * The trust fold as it was before its runs were indexed (src/evidence/projections/trust.ts at 25d8c79):
 * every event of a run searched the profile's kept runs, and every decided run recomputed the evidence
 * of the runs since the last level change. Kept verbatim, apart from the kept-runs limit (a parameter
 * here, so short histories reach it), as the definition the indexed fold must agree with
 * (test/unit/trust-index.test.ts). Not used by agentctl.
 */
import { AUTONOMY_LEVELS, autonomyRank, type Autonomy } from '../../src/definition/task.js';
import { EVENT_TYPES, type StoredEvent } from '../../src/evidence/events.js';
import { evidenceOf, rateDemotionReason, windowOf, type Evidence, type RunRecord, type TrustRules } from '../../src/evidence/projections/trust-rules.js';


/** One change of level, with the evidence at that moment. */
export interface LevelChange {
  seq: number;
  ts: string;
  from: Autonomy;
  to: Autonomy;
  kind: 'promotion' | 'demotion' | 'automatic-demotion' | 'fail-closed';
  /** Who: a human (git user.email) or `agentctl`. */
  by: string;
  /** Why: the note, the rule or the event that caused it. */
  reason: string;
  evidence: Evidence;
}

/** One trust profile. */
export interface TrustProfile {
  agent: string;
  project: string;
  taskType: string;
  level: Autonomy;
  /** Why the level is what it is. */
  reason: string;
  /** Sequence number of the last level change (0 = initial). */
  changedAtSeq: number;
  history: LevelChange[];
  /** Runs in log order (at most {@link limits}.runsKept). */
  runs: RunRecord[];
}

/** Serializable projection state. */
export interface TrustState {
  profiles: Record<string, TrustProfile>;
  /** run id → profile key. */
  runKeys: Record<string, string>;
  /** Agents whose profiles failed closed (an unreadable event without a task type). `*` = all. */
  failedClosed: Record<string, string>;
  lastSeq: number;
  lastTs: string | undefined;
}

/** Runs remembered per profile (the window is at most this large). */
export const limits = { runsKept: 1000 };

/** Key of a trust profile: agent, project and task type joined by NUL. */
export function trustKey(agent: string, project: string, taskType: string): string {
  return `${agent}\u0000${project}\u0000${taskType}`;
}

/** The empty state. */
export function emptyTrustState(): TrustState {
  return { profiles: {}, runKeys: {}, failedClosed: {}, lastSeq: 0, lastTs: undefined };
}

/** The level a profile without history starts at: `hold` if the agent failed closed, else `rules.initial`. */
function initialLevel(state: TrustState, rules: TrustRules, agent: string): { level: Autonomy; reason: string } {
  const closed = state.failedClosed[agent] ?? state.failedClosed['*'];
  if (closed) return { level: 'hold', reason: closed };
  return { level: rules.initial, reason: `initial level (trust.initial: ${rules.initial})` };
}

function profileFor(state: TrustState, rules: TrustRules, agent: string, project: string, taskType: string): TrustProfile {
  const key = trustKey(agent, project, taskType);
  let p = state.profiles[key];
  if (!p) {
    p = {
      agent,
      project,
      taskType,
      ...initialLevel(state, rules, agent),
      changedAtSeq: 0,
      history: [],
      runs: [],
    };
    state.profiles[key] = p;
  }
  return p;
}

/** Evidence of a profile over its window. */
export function profileEvidence(p: TrustProfile, rules: TrustRules, now: string | undefined): Evidence {
  return evidenceOf(windowOf(p.runs, rules, now));
}

function changeLevel(p: TrustProfile, e: StoredEvent, to: Autonomy, kind: LevelChange['kind'], by: string, reason: string, evidence: Evidence): void {
  if (to === p.level && kind !== 'fail-closed') return;
  p.history.push({ seq: e.seq, ts: e.ts, from: p.level, to, kind, by, reason, evidence });
  p.level = to;
  p.reason = `${kind === 'promotion' ? 'promoted' : kind === 'fail-closed' ? 'failed closed' : 'demoted'} to ${to} by ${by}: ${reason} (event #${e.seq})`;
  p.changedAtSeq = e.seq;
}

function critical(p: TrustProfile, e: StoredEvent, rules: TrustRules, state: TrustState, what: string): void {
  if (p.level === 'hold') return;
  changeLevel(p, e, 'hold', 'automatic-demotion', 'agentctl', what, profileEvidence(p, rules, state.lastTs));
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * Apply one event to the state (mutates and returns `state`). Events must come in sequence order;
 * an event at or below `state.lastSeq` is ignored (so re-applying a prefix is harmless).
 */
export function applyTrustEvent(state: TrustState, e: StoredEvent, rules: TrustRules): TrustState {
  if (e.seq <= state.lastSeq) return state;
  state.lastSeq = e.seq;
  state.lastTs = e.ts;
  const known = (EVENT_TYPES as Record<string, number>)[e.type];
  if (known === undefined || e.version > known) {
    const reason = `event #${e.seq} has a type or version this agentctl cannot read (${e.type} v${e.version}); upgrade agentctl`;
    const matches = Object.values(state.profiles).filter((p) => (!e.agent || p.agent === e.agent) && (!e.taskType || p.taskType === e.taskType) && (!e.project || p.project === e.project));
    if (!e.taskType) state.failedClosed[e.agent ?? '*'] = `failed closed: ${reason}`;
    for (const p of matches) changeLevel(p, e, 'hold', 'fail-closed', 'agentctl', reason, profileEvidence(p, rules, state.lastTs));
    if (e.agent && e.project && e.taskType && matches.length === 0) {
      const p = profileFor(state, rules, e.agent, e.project, e.taskType);
      changeLevel(p, e, 'hold', 'fail-closed', 'agentctl', reason, profileEvidence(p, rules, state.lastTs));
    }
    return state;
  }
  const pl = e.payload;
  if (e.type === 'trust.promoted' || e.type === 'trust.demoted') {
    const p = profileFor(state, rules, String(pl.agent), String(pl.project), String(pl.taskType));
    const to = pl.to as Autonomy;
    if (!AUTONOMY_LEVELS.includes(to)) return state;
    const snapshot = (pl.evidence as Evidence | undefined) ?? profileEvidence(p, rules, state.lastTs);
    const note = typeof pl.note === 'string' ? pl.note : typeof pl.reason === 'string' ? pl.reason : e.type === 'trust.promoted' ? 'promotion approved' : 'manual demotion';
    if (e.type === 'trust.promoted' && autonomyRank(to) > autonomyRank(p.level)) changeLevel(p, e, to, 'promotion', String(pl.by ?? 'a human'), note, snapshot);
    if (e.type === 'trust.demoted' && autonomyRank(to) < autonomyRank(p.level)) changeLevel(p, e, to, 'demotion', String(pl.by ?? 'a human'), note, snapshot);
    return state;
  }
  if (e.type === 'breaker.tripped') {
    for (const p of Object.values(state.profiles)) {
      if ((pl.agent === undefined || pl.agent === null || p.agent === pl.agent) && (!e.project || p.project === e.project)) critical(p, e, rules, state, `circuit breaker "${String(pl.breaker)}" tripped`);
    }
    return state;
  }
  if (!e.runId) return state;
  if (e.type === 'run.planned') {
    if (!e.agent || !e.project || !e.taskType) return state;
    const p = profileFor(state, rules, e.agent, e.project, e.taskType);
    state.runKeys[e.runId] = trustKey(e.agent, e.project, e.taskType);
    p.runs.push({
      runId: e.runId, seq: e.seq, ts: e.ts, claimed: pl.claim === true, outcome: 'open', auto: false, gateRan: false, gateFailed: false,
      scopeViolations: 0, escalationAttempts: 0, regression: false, followUp: false, audit: undefined, durationMs: undefined, tokens: 0, costUsd: undefined, levelAtStart: p.level,
      // Runs logged before every run was confined carry no `sandbox` field: they earn nothing either.
      unsandboxed: pl.sandbox !== 'os',
    });
    // A run that leaves the window is forgotten everywhere: later events of it change nothing either
    // way, and the state stays bounded however long the history.
    if (p.runs.length > limits.runsKept) for (const gone of p.runs.splice(0, p.runs.length - limits.runsKept)) delete state.runKeys[gone.runId];
    return state;
  }
  const key = state.runKeys[e.runId];
  const p = key ? state.profiles[key] : undefined;
  const run = p?.runs.find((r) => r.runId === e.runId);
  if (!p || !run) return state;
  let decided = false;
  switch (e.type) {
    case 'agent.exited':
      run.durationMs = num(pl.durationMs);
      break;
    case 'agent.usage':
      run.tokens += num(pl.inputTokens) + num(pl.outputTokens);
      if (typeof pl.costUsd === 'number') run.costUsd = (run.costUsd ?? 0) + pl.costUsd;
      break;
    case 'gate.passed':
    case 'gate.failed':
      run.gateRan = true;
      run.gateFailed = e.type === 'gate.failed';
      break;
    case 'scope.violation':
      run.scopeViolations++;
      critical(p, e, rules, state, `scope violation in run ${e.runId}: ${String(pl.path)}`);
      break;
    case 'escalation.attempted':
      run.escalationAttempts++;
      critical(p, e, rules, state, `self-escalation attempt in run ${e.runId}: ${String(pl.tool)} on ${String(pl.path)}`);
      break;
    case 'regression.detected':
      run.regression = true;
      critical(p, e, rules, state, `regression: run ${e.runId} ${String(pl.kind ?? 'reverted')} in ${String(pl.commit ?? '').slice(0, 10)}`);
      break;
    case 'review.followup':
      run.followUp = true;
      break;
    case 'review.changes_requested':
      run.rounds = (run.rounds ?? 1) + 1;
      break;
    case 'audit.agreed':
      run.audit = 'agreed';
      break;
    case 'audit.disagreed':
      run.audit = 'disagreed';
      break;
    case 'run.merged':
      run.outcome = 'merged';
      run.auto = pl.auto === true;
      decided = true;
      break;
    case 'run.discarded':
      if (run.outcome !== 'failed') run.outcome = 'discarded';
      decided = true;
      break;
    case 'run.failed':
      run.outcome = 'failed';
      decided = true;
      break;
    case 'run.interrupted':
      run.outcome = 'interrupted';
      break;
    default:
      break;
  }
  if (decided && p.level !== 'hold') {
    const since = p.runs.filter((r) => r.seq > p.changedAtSeq);
    const why = rateDemotionReason(since, rules);
    if (why) changeLevel(p, e, AUTONOMY_LEVELS[autonomyRank(p.level) - 1]!, 'automatic-demotion', 'agentctl', why, profileEvidence(p, rules, state.lastTs));
  }
  return state;
}

/** Fold a whole event sequence from the empty state (the rebuild). */
export function projectTrust(events: Iterable<StoredEvent>, rules: TrustRules): TrustState {
  const state = emptyTrustState();
  for (const e of events) applyTrustEvent(state, e, rules);
  return state;
}

/** The earned level for one (agent, project, task type), with its reason. */
export function earnedLevel(state: TrustState, rules: TrustRules, agent: string, project: string, taskType: string): { level: Autonomy; reason: string } {
  const p = state.profiles[trustKey(agent, project, taskType)];
  return p ? { level: p.level, reason: p.reason } : initialLevel(state, rules, agent);
}
