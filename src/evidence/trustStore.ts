/**
 * Keeping the trust projection current: the persisted snapshot of a project, with the events appended
 * since folded in a page at a time (projectionSync.ts). A snapshot computed with other rules or logic
 * is thrown away and rebuilt. The state is bounded (MAX_RUNS_KEPT runs per profile), so it is one snapshot.
 *
 * Beside it, the read view (`trust-view:<project>`, projections/trust.ts TrustView): what commands read.
 * The fold's state is megabytes on a long history (1,000 runs per profile, a run index); parsing and
 * authenticating it cost `tasks`, `promote` and every run tens of milliseconds. The view is saved with
 * the state, at the same sequence, and read alone while no event of the project came after it.
 */
import { canonicalJson, sha256 } from './canonical.js';
import { applyTrustEvent, emptyTrustState, trustView, type TrustState, type TrustView } from './projections/trust.js';
import type { TrustRules } from './projections/trust-rules.js';
import { paging } from './projectionSync.js';
import { loadSnapshot, newEventsSince, syncSnapshotAt, type SnapshotFold } from './snapshotSync.js';
import type { EventStore } from './store.js';

/**
 * Version of the projection's own logic: a snapshot from another version is rebuilt from the log.
 * 2: runs without the OS sandbox earn nothing; 3: rounds per run (merges after requested changes);
 * 4: a run that leaves a profile's window is forgotten (the state no longer grows with history).
 */
const PROJECTION_LOGIC = 4;

/** Hash of the rules (and projection logic version) a snapshot was computed with. */
export function rulesHash(rules: TrustRules): string {
  return sha256(canonicalJson({ rules, logic: PROJECTION_LOGIC })).slice(0, 16);
}

/** The persisted trust fold of `project` under `rules`. */
export function trustFold(project: string, rules: TrustRules): SnapshotFold<TrustState> {
  return { name: `trust:${project}`, version: rulesHash(rules), filter: { project }, empty: emptyTrustState, apply: (state, e) => void applyTrustEvent(state, e, rules) };
}

/** The stored read view of `project`'s trust (never folded: derived from the state, see {@link currentTrust}). */
function viewFold(project: string, rules: TrustRules): SnapshotFold<TrustView | undefined> {
  return {
    name: `trust-view:${project}`,
    version: rulesHash(rules),
    filter: { project },
    empty: () => undefined,
    apply: () => {
      throw new Error('a trust view is derived from the trust state, never folded');
    },
  };
}

/** Save `view` as covering the log up to `lastSeq`. */
function saveView(store: EventStore, project: string, rules: TrustRules, view: TrustView, lastSeq: number): void {
  const { name, version } = viewFold(project, rules);
  store.saveProjection({ name, lastSeq, rulesHash: version, state: JSON.stringify(view) });
}

/**
 * The current trust of a project, as readers see it (TrustView: levels, history, each profile's last
 * runs). Read from the saved view when no event of the project came after it; otherwise the saved state
 * is brought up to date (events since folded in, saved) and the view saved beside it. Either way the
 * answer is `trustView` of the state folded from the whole log (property test).
 * @returns the view (profiles of this project only)
 */
export function currentTrust(store: EventStore, project: string, rules: TrustRules): TrustView {
  const saved = loadSnapshot(store, viewFold(project, rules));
  if (saved.state !== undefined) {
    const { found, coveredSeq } = newEventsSince(store, { project }, saved.lastSeq);
    if (!found) {
      // Many events of other projects skipped: note it, so the next read starts after them.
      if (coveredSeq - saved.lastSeq >= paging.events) saveView(store, project, rules, saved.state, coveredSeq);
      return saved.state;
    }
  }
  const { state, lastSeq } = syncSnapshotAt(store, trustFold(project, rules));
  const view = trustView(state, rules);
  saveView(store, project, rules, view, lastSeq);
  return view;
}

/** Save the read view of a rebuilt state (projections rebuild: the view follows the state it is cut from). */
export function saveTrustView(store: EventStore, project: string, rules: TrustRules, state: TrustState, lastSeq: number): void {
  saveView(store, project, rules, trustView(state, rules), lastSeq);
}
