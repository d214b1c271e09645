/**
 * Keeping snapshot projections current: a bounded state (trust profiles, breaker controls, project
 * facts) saved as one authenticated snapshot with the last sequence folded in, advanced a page of
 * events at a time (see projectionSync.ts for row projections).
 */
import type { ProgressFn } from '../core/progress.js';
import type { StoredEvent } from './events.js';
import { eventPage, paging, showCatchUp } from './projectionSync.js';
import type { EventQuery, EventStore } from './store.js';

/** A projection stored as one bounded state (trust profiles, breaker controls). */
export interface SnapshotFold<S> {
  /** Stored name (unique per log), e.g. `trust:<project>`. */
  name: string;
  /** Logic (and rules) version: a snapshot from another version is rebuilt. */
  version: string;
  filter: Pick<EventQuery, 'project' | 'types'>;
  empty(): S;
  /** Fold one event into `state` (mutating it). */
  apply(state: S, e: StoredEvent): void;
}

/** Pages folded between two saves of a snapshot while it catches up (bounds work lost to a crash). */
const SAVE_EVERY_PAGES = 20;

/**
 * The events `filter` selects after `from`, a page at a time (eventPage), until the head.
 * @returns per page: its events, whether it was full, and the sequence it covers (an incomplete page
 *   saw every event up to at least the head read before it)
 */
function* pagesAfter(store: EventStore, filter: SnapshotFold<unknown>['filter'], from: number): Generator<{ events: StoredEvent[]; full: boolean; coveredSeq: number }> {
  let seq = from;
  for (;;) {
    const head = store.headSeq();
    if (seq >= head) return;
    const { events, full, endSeq } = eventPage(store, filter, seq);
    seq = full ? endSeq : Math.max(endSeq, head);
    yield { events, full, coveredSeq: seq };
    if (!full) return;
  }
}

/**
 * Fold the events after `from` into `state` (paged), saving as it goes.
 * @param onProgress told, after each page, the events covered since `from` and those to cover
 * @returns the sequence covered
 */
function advanceSnapshot<S>(store: EventStore, fold: SnapshotFold<S>, state: S, from: number, save: boolean, onProgress?: ProgressFn): number {
  let lastSeq = from;
  let saved = from;
  let changed = false;
  let pages = 0;
  for (const page of pagesAfter(store, fold.filter, from)) {
    pages++;
    for (const e of page.events) fold.apply(state, e);
    changed ||= page.events.length > 0;
    lastSeq = page.coveredSeq;
    // Saving takes the write lock: skip it when nothing was folded and little was skipped (the run guard
    // reads the controls every 400 ms while its run appends events).
    const worth = changed || lastSeq - saved >= paging.events;
    if (save && worth && (!page.full || pages % SAVE_EVERY_PAGES === 0)) {
      store.saveProjection({ name: fold.name, lastSeq, rulesHash: fold.version, state: JSON.stringify(state) });
      saved = lastSeq;
      changed = false;
    }
    onProgress?.(lastSeq - from, Math.max(lastSeq, store.headSeq()) - from);
  }
  return lastSeq;
}

/** The stored snapshot's state and sequence when authentic and of this version; else the empty state at 0. */
export function loadSnapshot<S>(store: EventStore, fold: SnapshotFold<S>): { state: S; lastSeq: number } {
  const snap = store.loadProjection(fold.name);
  if (snap && snap.rulesHash === fold.version) {
    try {
      return { state: JSON.parse(snap.state) as S, lastSeq: snap.lastSeq };
    } catch {
      // Unreadable: rebuilt below.
    }
  }
  return { state: fold.empty(), lastSeq: 0 };
}

/**
 * The snapshot projection, current: the saved state with the events since folded in (and saved).
 * Several processes may do this at once: the fold is deterministic, so they save the same state, and a
 * save never moves a snapshot backwards (store.ts).
 */
export function syncSnapshot<S>(store: EventStore, fold: SnapshotFold<S>): S {
  return syncSnapshotAt(store, fold).state;
}

/** {@link syncSnapshot}, with the sequence the returned state covers. */
export function syncSnapshotAt<S>(store: EventStore, fold: SnapshotFold<S>): { state: S; lastSeq: number } {
  const { state, lastSeq } = loadSnapshot(store, fold);
  const progress = showCatchUp(store, lastSeq);
  try {
    return { state, lastSeq: advanceSnapshot(store, fold, state, lastSeq, true, progress?.report) };
  } finally {
    progress?.end();
  }
}

/**
 * Whether any event `filter` selects was appended after `afterSeq`, reading the events since (a page at
 * a time; other projects' events are skipped in memory, see eventPage).
 * @returns whether one was found, and the sequence the search covered (≥ afterSeq)
 */
export function newEventsSince(store: EventStore, filter: SnapshotFold<unknown>['filter'], afterSeq: number): { found: boolean; coveredSeq: number } {
  let covered = afterSeq;
  for (const page of pagesAfter(store, filter, afterSeq)) {
    if (page.events.length > 0) return { found: true, coveredSeq: covered };
    covered = page.coveredSeq;
  }
  return { found: false, coveredSeq: covered };
}

/**
 * Rebuild a snapshot projection from zero (paged; memory bounded by the state), compare it with the
 * incremental one at the same sequence, and save the rebuilt one.
 * @param from the rebuild so far: a state folded from zero up to `lastSeq` (e.g. by one read of the log
 *   shared with other projections); default: the empty state at 0
 * @returns the rebuilt state and whether the incremental one agreed
 */
export function rebuildSnapshot<S>(store: EventStore, fold: SnapshotFold<S>, same: (a: S, b: S) => boolean, from?: { state: S; lastSeq: number }): { state: S; lastSeq: number; agreed: boolean } {
  const rebuilt = from ? from.state : fold.empty();
  let seq = advanceSnapshot(store, fold, rebuilt, from ? from.lastSeq : 0, false);
  const inc = loadSnapshot(store, fold);
  let incSeq = advanceSnapshot(store, fold, inc.state, inc.lastSeq, false);
  // Appends in between: bring both to the same sequence.
  while (incSeq !== seq) {
    if (incSeq < seq) incSeq = advanceSnapshot(store, fold, inc.state, incSeq, false);
    else seq = advanceSnapshot(store, fold, rebuilt, seq, false);
  }
  store.saveProjection({ name: fold.name, lastSeq: seq, rulesHash: fold.version, state: JSON.stringify(rebuilt) });
  return { state: rebuilt, lastSeq: seq, agreed: same(inc.state, rebuilt) };
}
