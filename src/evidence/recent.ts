/**
 * Reading only the recent part of the log: the first sequence at or after a time, found by bisection on
 * the sequence (dense: 1…head), so a windowed reader (breakers: the last 8 days) costs the window, not
 * the history. Event times come from the appending process's clock and are not strictly ordered, so the
 * search starts `skewMs` earlier and callers filter by time themselves.
 */
import type { EventStore } from './store.js';

/** Clock disorder tolerated between processes appending to one log. */
export const CLOCK_SKEW_MS = 3_600_000;

/**
 * The first sequence whose event time is at or after `sinceMs - skewMs` (head + 1 when none).
 * About log2(head) single-row reads.
 */
export function firstSeqSince(store: EventStore, sinceMs: number, skewMs = CLOCK_SKEW_MS): number {
  const target = sinceMs - skewMs;
  let lo = 1;
  let hi = store.headSeq() + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const e = store.query({ afterSeq: mid - 1, limit: 1 })[0];
    if (!e) hi = mid;
    else if (Date.parse(e.ts) >= target) hi = e.seq === mid ? mid : Math.min(hi, e.seq);
    else lo = e.seq + 1;
  }
  return lo;
}
