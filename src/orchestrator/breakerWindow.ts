/**
 * The events circuit breakers look at, read by window instead of the whole project history: the last
 * 8 days (the volume norm's history plus the hour) or the error window if longer, of the event types the
 * breakers count, plus every scope violation since the oldest reset of the scope breaker.
 */
import type { StoredEvent } from '../evidence/events.js';
import { breakerKey, type BreakerConfig, type Controls } from '../evidence/projections/breakers.js';
import { firstSeqSince } from '../evidence/recent.js';
import type { EventStore } from '../evidence/store.js';

/** Event types evaluateBreakers counts. */
const COUNTED = ['run.planned', 'sandbox.committed', 'agent.usage', 'gate.failed', 'run.failed', 'run.discarded', 'scope.violation'] as const;
const NORM_WINDOW_MS = 8 * 86_400_000;

/**
 * Events of `project` that evaluateBreakers / breakerStatus read for `agents`, in sequence order.
 * @param nowMs current time in milliseconds since the epoch
 */
export function breakerEvents(store: EventStore, project: string, config: BreakerConfig, controls: Controls, agents: readonly string[], nowMs: number): StoredEvent[] {
  const windowMs = Math.max(NORM_WINDOW_MS, config.errors.windowMinutes * 60_000, 86_400_000);
  const from = firstSeqSince(store, nowMs - windowMs);
  const recent = store.query({ types: COUNTED, afterSeq: from - 1 }).filter((e) => e.project === project);
  if (!config.scope.enabled) return recent;
  const resets = agents.map((a) => controls.lastReset[breakerKey('scope', a, project)] ?? 0);
  const since = resets.length ? Math.min(...resets) : 0;
  if (since >= from - 1) return recent;
  const older = store.query({ types: ['scope.violation'], afterSeq: since }).filter((e) => e.project === project && e.seq < from);
  return [...older, ...recent];
}
