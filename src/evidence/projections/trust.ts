/**
 * The trust projection: earned autonomy and evidence per (agent, project, task type), folded from the
 * event log. Pure: `applyTrustEvent` is a reducer over serializable state, so the projection can be
 * kept incrementally (persisted with the last sequence it saw) and always rebuilt from zero with the
 * same result.
 *
 * - Levels start at `rules.initial` and rise only through `trust.promoted` (a recorded human decision).
 * - Critical events drop the profile straight to `hold`: a scope violation, an escalation attempt
 *   (a tool call aimed at agentctl's or a tool's own configuration), a detected regression, a tripped
 *   circuit breaker. Trust resets asymmetrically: one event undoes many good runs.
 * - After each decided run, if the rejection or gate-failure rate since the last level change exceeds
 *   its threshold (over at least `demotion.minRuns` runs), the level drops one step.
 * - `trust.demoted` records a human's manual demotion.
 * - An event type or version this code does not know fails closed: the agent's profiles fall to `hold`.
 * Ordering is by sequence number only; event times matter only for the optional day window.
 */
import { AUTONOMY_LEVELS, autonomyRank, type Autonomy } from '../../definition/task.js';
import { EVENT_TYPES, type StoredEvent } from '../events.js';
import { addDecidedCounts, evidenceOf, noDecidedCounts, rateDemotionReasonOf, windowOf, type DecidedCounts, type Evidence, type RunRecord, type TrustRules } from './trust-rules.js';

export type { Evidence } from './trust-rules.js';

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
  /**
   * Runs in log order: at most {@link MAX_RUNS_KEPT} in the fold's state; in a {@link TrustView}, the
   * last {@link viewRunsOf} of them.
   */
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

/**
 * What readers of trust see (levels, history, evidence over the window): the state without the fold's
 * run index, each profile's runs cut to the last {@link viewRunsOf}. Small (kilobytes where the fold's
 * state is megabytes), so commands read it rather than the whole state (trustStore.ts).
 */
export type TrustView = Omit<TrustState, 'runKeys'>;

/** Runs remembered per profile (the window is at most this large). */
export const MAX_RUNS_KEPT = 1000;

/** Runs the evidence report (`promote --html`) draws per profile. */
export const REPORT_RUNS = 60;

/** Runs per profile a {@link TrustView} keeps: the window (`trust.window.runs`) or {@link REPORT_RUNS}, the larger. */
export function viewRunsOf(rules: TrustRules): number {
  return Math.max(rules.window.runs, REPORT_RUNS);
}

/**
 * The read view of a state: every reader's answer is the same from it as from the state (evidence is over
 * the last `window.runs` runs: {@link windowOf}). Shares the state's history arrays and run records.
 * @returns a new object; `state` is not changed
 */
export function trustView(state: TrustState, rules: TrustRules): TrustView {
  const keep = viewRunsOf(rules);
  const profiles: Record<string, TrustProfile> = {};
  for (const [key, p] of Object.entries(state.profiles)) profiles[key] = { ...p, runs: p.runs.slice(-keep) };
  return { profiles, failedClosed: { ...state.failedClosed }, lastSeq: state.lastSeq, lastTs: state.lastTs };
}

/** Key of a trust profile: agent, project and task type joined by NUL. */
export function trustKey(agent: string, project: string, taskType: string): string {
  return `${agent}\u0000${project}\u0000${taskType}`;
}

/** The empty state. */
export function emptyTrustState(): TrustState {
  return { profiles: {}, runKeys: {}, failedClosed: {}, lastSeq: 0, lastTs: undefined };
}

/** The level a profile without history starts at: `hold` if the agent failed closed, else `rules.initial`. */
function initialLevel(state: TrustView, rules: TrustRules, agent: string): { level: Autonomy; reason: string } {
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

/**
 * What the fold derives from a profile's kept runs to avoid a pass over them per event (up to
 * {@link MAX_RUNS_KEPT}; a rebuild of a long log spent most of its time in those passes): each run id's
 * first kept record, and the automatic demotion's counts over the runs since the last level change.
 * Held in memory beside the profile, never saved (a profile read back from JSON is indexed again on
 * first use), and kept current by {@link applyTrustEvent}, the only code that changes a profile's runs.
 */
interface RunIndex {
  /** The indexed array, its length, first and last record when last indexed: any other change re-indexes. */
  runs: RunRecord[];
  length: number;
  first: RunRecord | undefined;
  last: RunRecord | undefined;
  /** Run id → its first record in `runs` (what `runs.find` would return), and how many records it has. */
  byId: Map<string, { first: RunRecord; count: number }>;
  /** The profile's `changedAtSeq` the counts are for. */
  changedAtSeq: number;
  /** {@link DecidedCounts} over the runs with `seq > changedAtSeq`. */
  since: DecidedCounts;
}

const runIndexes = new WeakMap<TrustProfile, RunIndex>();

/** Recount the demotion counts of the runs since the last level change. */
function recount(idx: RunIndex, p: TrustProfile): void {
  idx.changedAtSeq = p.changedAtSeq;
  idx.since = noDecidedCounts();
  for (const r of p.runs) if (r.seq > p.changedAtSeq) addDecidedCounts(idx.since, r, 1);
}

/** Note the array's shape after a change made through the index. */
function settle(idx: RunIndex, p: TrustProfile): void {
  idx.runs = p.runs;
  idx.length = p.runs.length;
  idx.first = p.runs[0];
  idx.last = p.runs[p.runs.length - 1];
}

/** The profile's index, built when missing or stale; its counts are for the current `changedAtSeq`. */
function runIndex(p: TrustProfile): RunIndex {
  let idx = runIndexes.get(p);
  if (!idx || idx.runs !== p.runs || idx.length !== p.runs.length || idx.first !== p.runs[0] || idx.last !== p.runs[p.runs.length - 1]) {
    const byId = new Map<string, { first: RunRecord; count: number }>();
    for (const r of p.runs) {
      const at = byId.get(r.runId);
      if (at) at.count++;
      else byId.set(r.runId, { first: r, count: 1 });
    }
    idx = { runs: p.runs, length: 0, first: undefined, last: undefined, byId, changedAtSeq: p.changedAtSeq, since: noDecidedCounts() };
    settle(idx, p);
    recount(idx, p);
    runIndexes.set(p, idx);
  } else if (idx.changedAtSeq !== p.changedAtSeq) recount(idx, p);
  return idx;
}

/** Append a run record to the profile (through its index). */
function pushRun(p: TrustProfile, r: RunRecord): void {
  const idx = runIndex(p);
  p.runs.push(r);
  const at = idx.byId.get(r.runId);
  if (at) at.count++;
  else idx.byId.set(r.runId, { first: r, count: 1 });
  if (r.seq > idx.changedAtSeq) addDecidedCounts(idx.since, r, 1);
  settle(idx, p);
}

/** Drop the oldest runs beyond `keep` (through the index). @returns the dropped records */
function dropOldest(p: TrustProfile, keep: number): RunRecord[] {
  const idx = runIndex(p);
  const gone = p.runs.splice(0, p.runs.length - keep);
  for (const r of gone) {
    if (r.seq > idx.changedAtSeq) addDecidedCounts(idx.since, r, -1);
    const at = idx.byId.get(r.runId)!;
    if (--at.count === 0) idx.byId.delete(r.runId);
    // A run id planned again in this profile: its next record is now the first.
    else if (at.first === r) at.first = p.runs.find((x) => x.runId === r.runId)!;
  }
  settle(idx, p);
  return gone;
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
    pushRun(p, {
      runId: e.runId, seq: e.seq, ts: e.ts, claimed: pl.claim === true, outcome: 'open', auto: false, gateRan: false, gateFailed: false,
      scopeViolations: 0, escalationAttempts: 0, regression: false, followUp: false, audit: undefined, durationMs: undefined, tokens: 0, costUsd: undefined, levelAtStart: p.level,
      // Runs logged before every run was confined carry no `sandbox` field: they earn nothing either.
      unsandboxed: pl.sandbox !== 'os',
    });
    // A run that leaves the window is forgotten everywhere: later events of it change nothing either
    // way, and the state stays bounded however long the history.
    if (p.runs.length > MAX_RUNS_KEPT) for (const gone of dropOldest(p, MAX_RUNS_KEPT)) delete state.runKeys[gone.runId];
    return state;
  }
  const key = state.runKeys[e.runId];
  const p = key ? state.profiles[key] : undefined;
  const idx = p && runIndex(p);
  const run = idx?.byId.get(e.runId)?.first;
  if (!p || !idx || !run) return state;
  // The run's part of the demotion counts is taken out while it changes, and put back after.
  if (run.seq > idx.changedAtSeq) addDecidedCounts(idx.since, run, -1);
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
  // A level change above (a critical event) moved `changedAtSeq`: the counts are then made again.
  if (idx.changedAtSeq !== p.changedAtSeq) recount(idx, p);
  else if (run.seq > idx.changedAtSeq) addDecidedCounts(idx.since, run, 1);
  if (decided && p.level !== 'hold') {
    // The runs since the last level change, as counted (rateDemotionReason's answer without a pass over them).
    const why = rateDemotionReasonOf(idx.since, rules);
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
export function earnedLevel(state: TrustView, rules: TrustRules, agent: string, project: string, taskType: string): { level: Autonomy; reason: string } {
  const p = state.profiles[trustKey(agent, project, taskType)];
  return p ? { level: p.level, reason: p.reason } : initialLevel(state, rules, agent);
}
