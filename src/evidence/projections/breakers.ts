/**
 * Circuit breakers and the kill switch: hard limits that override trust. Pure.
 *
 * - `projectControls` folds `breaker.tripped` / `breaker.reset` and `system.halted` / `system.resumed`
 *   into the current state (which breakers are tripped for which agent; whether everything is halted).
 * - `evaluateBreakers` checks an agent's recent activity in a project against the thresholds. Counting
 *   starts after the breaker's last reset, so a reset is not undone by the events that caused the trip.
 */
import { InternalError } from '../../core/errors.js';
import { isEvent, payloadOf, storedPayloads, storedView } from '../eventSchemas.js';
import type { StoredEvent } from '../events.js';

/** Thresholds from `.agentrc.yaml` `breakers:`. */
export interface BreakerConfig {
  /** Trips when the last hour is above both the floor and `normFactor` × the agent's norm (its mean per active hour over the previous 7 days). */
  volume: { runsPerHour: number; linesPerHour: number; bytesPerHour: number; normFactor: number };
  cost: { usdPerDay: number; tokensPerDay: number };
  errors: { windowMinutes: number; maxFailures: number };
  scope: { enabled: boolean };
}

/** The circuit breakers, in display order. */
export const BREAKERS = ['volume', 'cost', 'errors', 'scope'] as const;
/** One breaker's name. */
export type BreakerName = (typeof BREAKERS)[number];

/** A tripped breaker. */
export interface Trip {
  breaker: BreakerName;
  agent: string;
  project: string;
  reason: string;
  /** Sequence of the `breaker.tripped` event (0 for a trip not yet recorded). */
  seq: number;
  ts: string;
}

/** Current control state. */
export interface Controls {
  /** Tripped breakers keyed by `breaker:agent:project`. */
  tripped: Record<string, Trip>;
  /** Sequence of the last reset per `breaker:agent:project` (counting starts after it). */
  lastReset: Record<string, number>;
  halted: { seq: number; ts: string; by: string; reason: string } | undefined;
}

/** Event types that make up the control state (read across projects: the kill switch is global). */
export const CONTROL_EVENT_TYPES = ['system.halted', 'system.resumed', 'breaker.tripped', 'breaker.reset'] as const;

/** Key of a breaker for one agent in one project. */
export function breakerKey(breaker: string, agent: string, project: string): string {
  return `${breaker}:${agent}:${project}`;
}

/** The control state before any event. */
export function emptyControls(): Controls {
  return { tripped: {}, lastReset: {}, halted: undefined };
}

/** Fold control events (any order of projects; sequence order). */
export function projectControls(events: Iterable<StoredEvent>): Controls {
  const c = emptyControls();
  for (const e of events) applyControlEvent(c, e);
  return c;
}

/** Fold one event into the control state (mutates `c`; events other than {@link CONTROL_EVENT_TYPES} change nothing). */
export function applyControlEvent(c: Controls, e: StoredEvent): void {
  {
    if (isEvent(e, 'breaker.tripped')) {
      const p = payloadOf(e, 'breaker.tripped');
      const project = e.project ?? p.project;
      c.tripped[breakerKey(p.breaker, p.agent, project)] = { breaker: p.breaker, agent: p.agent, project, reason: p.reason, seq: e.seq, ts: e.ts };
    } else if (isEvent(e, 'breaker.reset')) {
      const p = payloadOf(e, 'breaker.reset');
      const key = breakerKey(p.breaker, p.agent, e.project ?? p.project);
      delete c.tripped[key];
      c.lastReset[key] = e.seq;
    } else if (isEvent(e, 'system.halted')) {
      const p = payloadOf(e, 'system.halted');
      c.halted = { seq: e.seq, ts: e.ts, by: p.by, reason: p.reason };
    } else if (e.type === 'system.resumed') {
      c.halted = undefined;
    }
  }
}

/** Tripped breakers of one agent in one project. */
export function trippedFor(c: Controls, agent: string, project: string): Trip[] {
  return Object.values(c.tripped).filter((t) => t.agent === agent && t.project === project);
}

/** One breaker's state for an agent, as `agentctl breakers` shows it. */
export interface BreakerStatus {
  agent: string;
  breaker: BreakerName;
  tripped: boolean;
  /** ISO time of the trip, or null. */
  since: string | null;
  /** Why it tripped, or why it would trip now if it were not tripped, or null. */
  reason: string | null;
}

/**
 * The state of every breaker for each agent in `project` (each agent's events evaluated once).
 * @param agents the agents to report, in order
 * @param norms each of `agents`' volume norm (breakerInputs gives them: `events` alone do not cover the norm's 8 days)
 * @param nowMs current time in milliseconds since the epoch
 * @returns one row per agent × breaker, in {@link BREAKERS} order
 * @throws InternalError when `norms` lacks one of `agents`, or as evaluateBreakers
 */
export function breakerStatus(events: readonly StoredEvent[], controls: Controls, config: BreakerConfig, agents: readonly string[], project: string, nowMs: number, norms: ReadonlyMap<string, VolumeNorm>): BreakerStatus[] {
  return agents.flatMap((agent) => {
    const norm = norms.get(agent);
    if (!norm) throw new InternalError(`no volume norm for agent ${agent}`);
    const wouldTrip = evaluateBreakers(events, { ...controls, tripped: {} }, config, agent, project, nowMs, norm);
    return BREAKERS.map((breaker) => {
      const trip = controls.tripped[breakerKey(breaker, agent, project)];
      return { agent, breaker, tripped: trip !== undefined, since: trip?.ts ?? null, reason: trip?.reason ?? wouldTrip.find((t) => t.breaker === breaker)?.reason ?? null };
    });
  });
}

/** One hour (ms). */
export const HOUR_MS = 3_600_000;
/** How far back the volume norm looks: the 7 days before the last hour, and that hour (ms). */
export const NORM_WINDOW_MS = 8 * 86_400_000;

/** What events add to an agent's volume: planned runs, and committed diffs' changed lines and bytes. */
export interface Activity {
  runs: number;
  lines: number;
  bytes: number;
}

/** The volume breaker's norm, before dividing: an agent's activity over the 7 days before the last hour, and in how many hours it planned runs. */
export interface VolumeNorm extends Activity {
  /** Distinct clock hours (epoch ms ÷ {@link HOUR_MS}) with at least one planned run. */
  activeHours: number;
}

/**
 * What one event adds to its agent's volume (the one definition, used by the norm and by the hourly
 * activity projection that stores it): a `run.planned` is one run, a `sandbox.committed` its changed
 * lines and bytes (negative or non-finite counts add 0); any other event, undefined.
 * @throws InternalError for a stored payload of an older version that does not parse (storedView)
 */
export function activityOf(e: StoredEvent): Activity | undefined {
  if (e.type === 'run.planned') return { runs: 1, lines: 0, bytes: 0 };
  const t = e.type === 'sandbox.committed' ? storedView(e) : undefined;
  if (t?.type !== 'sandbox.committed') return undefined;
  return { runs: 0, lines: count(t.payload.insertions) + count(t.payload.deletions), bytes: count(t.payload.bytes) };
}

/** Is an event time (ms) in the norm's history, (now − {@link NORM_WINDOW_MS}, now − 1 h]? */
function inNormHistory(tsMs: number, nowMs: number): boolean {
  return nowMs - tsMs > HOUR_MS && nowMs - tsMs <= NORM_WINDOW_MS;
}

/**
 * The volume norm of `agent` in `project` from raw events: those of `events` in the norm's history.
 * @param events any events; those outside the history or of other agents are ignored
 * @param nowMs current time in milliseconds since the epoch
 * @returns the runs planned, lines and bytes committed (counts) in the history, and its active clock hours
 * @throws InternalError as activityOf (an older payload that does not parse)
 */
export function volumeNormOf(events: readonly StoredEvent[], agent: string, project: string, nowMs: number): VolumeNorm {
  const norm: VolumeNorm = { runs: 0, lines: 0, bytes: 0, activeHours: 0 };
  const hours = new Set<number>();
  for (const e of events) {
    if (e.agent !== agent || e.project !== project) continue;
    const ts = Date.parse(e.ts);
    if (!inNormHistory(ts, nowMs)) continue;
    const a = activityOf(e);
    if (!a) continue;
    addActivity(norm, a);
    if (a.runs > 0) hours.add(Math.floor(ts / HOUR_MS));
  }
  norm.activeHours = hours.size;
  return norm;
}

/** Add `a` into `into` (mutates and returns `into`). */
export function addActivity<T extends Activity>(into: T, a: Activity): T {
  into.runs += a.runs;
  into.lines += a.lines;
  into.bytes += a.bytes;
  return into;
}

/**
 * Which breakers should trip now for `agent` in `project`.
 * @param events the project's events, in sequence order, each type covering the window it is counted
 *   over: planned runs and committed diffs the last hour, usage 24 h, gate failures, failed and
 *   discarded runs the errors window, scope violations since the scope breaker's last reset (more is
 *   harmless)
 * @param nowMs current time in milliseconds since the epoch
 * @param norm the agent's volume norm (breakerWindow.ts: from the hourly activity projection; or
 *   {@link volumeNormOf} over events that cover its 8 days)
 * @returns new trips (breakers already tripped are not repeated)
 */
export function evaluateBreakers(events: readonly StoredEvent[], controls: Controls, config: BreakerConfig, agent: string, project: string, nowMs: number, norm: VolumeNorm): Trip[] {
  const trips: Trip[] = [];
  const mine = events.filter((e) => e.agent === agent && e.project === project);
  const since = (breaker: BreakerName, windowMs: number) => {
    const reset = controls.lastReset[breakerKey(breaker, agent, project)] ?? 0;
    return mine.filter((e) => e.seq > reset && nowMs - Date.parse(e.ts) <= windowMs);
  };
  const trip = (breaker: BreakerName, reason: string) => {
    if (!controls.tripped[breakerKey(breaker, agent, project)]) trips.push({ breaker, agent, project, reason, seq: 0, ts: new Date(nowMs).toISOString() });
  };
  const hour = since('volume', HOUR_MS);
  const n = norm;
  const runLimit = Math.max(config.volume.runsPerHour, n.activeHours ? (config.volume.normFactor * n.runs) / n.activeHours : 0);
  const lineLimit = Math.max(config.volume.linesPerHour, n.activeHours ? (config.volume.normFactor * n.lines) / n.activeHours : 0);
  const byteLimit = Math.max(config.volume.bytesPerHour, n.activeHours ? (config.volume.normFactor * n.bytes) / n.activeHours : 0);
  const { runs, lines, bytes } = hour.reduce((sum, e) => {
    const a = activityOf(e);
    return a ? addActivity(sum, a) : sum;
  }, { runs: 0, lines: 0, bytes: 0 });
  if (runs > runLimit) trip('volume', `${runs} runs in the last hour (limit ${Math.round(runLimit)}: the larger of ${config.volume.runsPerHour} and ${config.volume.normFactor}× the agent's norm)`);
  else if (lines > lineLimit) trip('volume', `${lines} changed lines in the last hour (limit ${Math.round(lineLimit)}: the larger of ${config.volume.linesPerHour} and ${config.volume.normFactor}× the agent's norm)`);
  else if (bytes > byteLimit) trip('volume', `${bytes} changed bytes in the last hour (limit ${Math.round(byteLimit)}: the larger of ${config.volume.bytesPerHour} and ${config.volume.normFactor}× the agent's norm)`);
  const day = storedPayloads(since('cost', 24 * HOUR_MS), 'agent.usage');
  const usd = day.reduce((n, p) => n + (p.costUsd ?? 0), 0);
  const tokens = day.reduce((n, p) => n + p.inputTokens + p.outputTokens, 0);
  if (usd > config.cost.usdPerDay) trip('cost', `$${usd.toFixed(2)} spent in the last 24 h (budget $${config.cost.usdPerDay})`);
  else if (tokens > config.cost.tokensPerDay) trip('cost', `${tokens} tokens in the last 24 h (budget ${config.cost.tokensPerDay})`);
  const failures = since('errors', config.errors.windowMinutes * 60_000).filter((e) => e.type === 'gate.failed' || e.type === 'run.failed' || e.type === 'run.discarded').length;
  if (failures > config.errors.maxFailures) trip('errors', `${failures} gate failures, failed or rejected runs in ${config.errors.windowMinutes} min (limit ${config.errors.maxFailures})`);
  if (config.scope.enabled) {
    const violation = since('scope', Number.POSITIVE_INFINITY).find((e) => isEvent(e, 'scope.violation'));
    if (violation) trip('scope', `scope violation in run ${violation.runId}: ${payloadOf(violation, 'scope.violation').path}`);
  }
  return trips;
}

/** A non-negative count (a binary file's -1 lines, a missing or forged `-1e9` count 0: they must not lower a total). */
function count(v: number | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * Probability that an auto merge is sampled for audit, weighted by risk: larger diffs and sensitive
 * paths weigh more. p = 1 − (1 − baseRate)^weight, so weight 1 gives exactly the base rate, a rate of 0
 * or 1 stays 0 or 1, and p stays within [0, 1].
 * @param changedLines insertions + deletions; about 50 lines has weight 1 (square root of size, clamped to 0.5–3)
 */
export function auditProbability(baseRate: number, changedLines: number, touchesSensitive: boolean): number {
  const weight = Math.min(3, Math.max(0.5, Math.sqrt(Math.max(1, changedLines) / 50))) * (touchesSensitive ? 2 : 1);
  return 1 - Math.pow(1 - baseRate, weight);
}
