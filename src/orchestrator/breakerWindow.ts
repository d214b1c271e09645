/**
 * What circuit breakers look at, read by window instead of the whole project history:
 * - per event type, the events of the window its breaker counts (see breakerInputs), and every scope
 *   violation since the oldest reset of the scope breaker;
 * - each agent's volume norm over the 7 days before the last hour, from the hourly activity projection
 *   (projectionCatalog.ts activityFold) for the whole clock hours in between, and from events for the
 *   two partial hours at its ends. The result equals `volumeNormOf` over a week of events (property
 *   test), at the cost of ≤ 193 rows per agent instead of a week of events.
 */
import type { StoredEvent } from '../evidence/events.js';
import { hourlyActivity } from '../evidence/projectionCatalog.js';
import { HOUR_MS, NORM_WINDOW_MS, addActivity, breakerKey, volumeNormOf, type BreakerConfig, type Controls, type VolumeNorm } from '../evidence/projections/breakers.js';
import { CLOCK_SKEW_MS, firstSeqSince } from '../evidence/recent.js';
import type { EventStore } from '../evidence/store.js';

/** Event types the volume breaker and its norm count (activityOf). */
const ACTIVITY = ['run.planned', 'sandbox.committed'] as const;

/**
 * The breakers' inputs for one project: events of the recent windows, and each agent's volume norm.
 * `events` does not cover the norm's 8 days: pass `norms.get(agent)` with them to evaluateBreakers /
 * breakerStatus, which would otherwise compute a norm from these events alone.
 */
export interface BreakerInputs {
  /** In sequence order: per type, every event of the window its breaker reads (see breakerInputs). */
  events: StoredEvent[];
  /** Volume norm per agent (for each of `agents`). */
  norms: Map<string, VolumeNorm>;
}

/** Events of `types` in `project` whose time (ms) is in [fromMs, toMs), read by sequence window. */
function eventsBetween(store: EventStore, project: string, types: readonly string[], fromMs: number, toMs: number): StoredEvent[] {
  const first = firstSeqSince(store, fromMs);
  // Times are out of order by at most CLOCK_SKEW_MS: after the first event at or past toMs + skew, none is before toMs.
  const end = firstSeqSince(store, toMs + CLOCK_SKEW_MS, 0);
  if (end <= first) return [];
  return store.query({ types, afterSeq: first - 1, limit: end - first }).filter((e) => e.seq < end && e.project === project && Date.parse(e.ts) >= fromMs && Date.parse(e.ts) < toMs);
}

/** Events of `types` in `project` from about `fromMs` on (every one at or after it; a few earlier ones). */
function eventsSince(store: EventStore, project: string, types: readonly string[], fromMs: number): StoredEvent[] {
  return store.query({ types, afterSeq: firstSeqSince(store, fromMs) - 1 }).filter((e) => e.project === project);
}

/**
 * The breakers' inputs for `agents` in `project`, as evaluateBreakers / breakerStatus read them. Each
 * type is read for the window its breaker looks at: planned runs and committed diffs from the start of
 * the clock hour before the last hour (volume), usage for 24 h (cost), gate failures, failed and
 * discarded runs for the errors window, scope violations since the oldest reset of the scope breaker.
 * @param nowMs current time in milliseconds since the epoch
 * @returns the events (sequence order) and a volume norm for each of `agents`
 * @throws InternalError for a stored payload of an older version that does not parse (storedView), and
 *   whatever the store throws (a damaged projection is rebuilt, see hourlyActivity)
 */
export function breakerInputs(store: EventStore, project: string, config: BreakerConfig, controls: Controls, agents: readonly string[], nowMs: number): BreakerInputs {
  const normFromMs = nowMs - NORM_WINDOW_MS;
  const firstWholeHour = Math.floor(normFromMs / HOUR_MS) + 1;
  // The norm's history ends at now − 1 h, inside this clock hour: from its start on, activity is read as events.
  const rawFromHour = Math.floor((nowMs - HOUR_MS) / HOUR_MS);
  const activity = eventsSince(store, project, ACTIVITY, rawFromHour * HOUR_MS);
  const usage = eventsSince(store, project, ['agent.usage'], nowMs - 24 * HOUR_MS);
  const errors = eventsSince(store, project, ['gate.failed', 'run.failed', 'run.discarded'], nowMs - config.errors.windowMinutes * 60_000);
  const resets = agents.map((a) => controls.lastReset[breakerKey('scope', a, project)] ?? 0);
  const scope = config.scope.enabled ? store.query({ types: ['scope.violation'], afterSeq: resets.length ? Math.min(...resets) : 0 }).filter((e) => e.project === project) : [];
  const events = [...activity, ...usage, ...errors, ...scope].sort((a, b) => a.seq - b.seq);

  // The norm: the history's first, partial hour (events), its whole hours before rawFromHour (rows), the rest (events).
  const edge = eventsBetween(store, project, ACTIVITY, normFromMs, firstWholeHour * HOUR_MS);
  const hours = hourlyActivity(store, project, agents, firstWholeHour, rawFromHour - 1);
  // Events read a little early (clock skew) are already in the rows.
  const tail = activity.filter((e) => Date.parse(e.ts) >= rawFromHour * HOUR_MS);
  const norms = new Map<string, VolumeNorm>();
  for (const agent of agents) {
    const norm = volumeNormOf([...edge, ...tail], agent, project, nowMs);
    for (const row of hours.get(agent) ?? []) {
      addActivity(norm, row);
      if (row.runs > 0) norm.activeHours++;
    }
    norms.set(agent, norm);
  }
  return { events, norms };
}
