/**
 * What circuit breakers look at, read by window instead of the whole project history:
 * - the events of the last 24 h (or the errors window if longer) of the types the breakers count, plus
 *   every scope violation since the oldest reset of the scope breaker;
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

/** Event types evaluateBreakers counts. */
const COUNTED = ['run.planned', 'sandbox.committed', 'agent.usage', 'gate.failed', 'run.failed', 'run.discarded', 'scope.violation'] as const;
/** Event types the volume norm counts (activityOf). */
const ACTIVITY = ['run.planned', 'sandbox.committed'] as const;

/** The breakers' inputs for one project: events of the recent window, and each agent's volume norm. */
export interface BreakerInputs {
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

/**
 * The breakers' inputs for `agents` in `project`, as evaluateBreakers / breakerStatus read them.
 * @param nowMs current time in milliseconds since the epoch
 * @throws ProjectionDamagedError never (a damaged projection is rebuilt, see readRows); store errors as thrown
 */
export function breakerInputs(store: EventStore, project: string, config: BreakerConfig, controls: Controls, agents: readonly string[], nowMs: number): BreakerInputs {
  const windowMs = Math.max(config.errors.windowMinutes * 60_000, 24 * HOUR_MS);
  const recentFromMs = nowMs - windowMs;
  const normFromMs = nowMs - NORM_WINDOW_MS;
  const firstWholeHour = Math.floor(normFromMs / HOUR_MS) + 1;
  // The events read cover every time from here on: whole hours before it come from the projection.
  const rawFromHour = Math.ceil(recentFromMs / HOUR_MS);
  const split = rawFromHour > firstWholeHour;
  const from = firstSeqSince(store, split ? recentFromMs : Math.min(recentFromMs, normFromMs));
  const recent = store.query({ types: COUNTED, afterSeq: from - 1 }).filter((e) => e.project === project);
  const norms = new Map<string, VolumeNorm>();
  if (split) {
    // The history's first, partial hour (from events), its whole hours up to the raw window (rows), the rest (events).
    const edge = eventsBetween(store, project, ACTIVITY, normFromMs, firstWholeHour * HOUR_MS);
    const rawTail = recent.filter((e) => Date.parse(e.ts) >= rawFromHour * HOUR_MS);
    const hours = hourlyActivity(store, project, agents, firstWholeHour, rawFromHour - 1);
    for (const agent of agents) {
      const norm = volumeNormOf([...edge, ...rawTail], agent, project, nowMs);
      for (const row of hours.get(agent) ?? []) {
        addActivity(norm, row);
        if (row.runs > 0) norm.activeHours++;
      }
      norms.set(agent, norm);
    }
  } else {
    for (const agent of agents) norms.set(agent, volumeNormOf(recent, agent, project, nowMs));
  }
  if (!config.scope.enabled) return { events: recent, norms };
  const resets = agents.map((a) => controls.lastReset[breakerKey('scope', a, project)] ?? 0);
  const since = resets.length ? Math.min(...resets) : 0;
  if (since >= from - 1) return { events: recent, norms };
  const older = store.query({ types: ['scope.violation'], afterSeq: since }).filter((e) => e.project === project && e.seq < from);
  return { events: [...older, ...recent], norms };
}
