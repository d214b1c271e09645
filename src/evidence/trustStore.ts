/**
 * Keeping the trust projection current: the persisted snapshot of a project, with the events appended
 * since folded in a page at a time (projectionSync.ts). A snapshot computed with other rules or logic
 * is thrown away and rebuilt. The state is bounded (MAX_RUNS_KEPT runs per profile), so it is one snapshot.
 */
import { canonicalJson, sha256 } from './canonical.js';
import { applyTrustEvent, emptyTrustState, type TrustState } from './projections/trust.js';
import type { TrustRules } from './projections/trust-rules.js';
import { rebuildSnapshot, syncSnapshot, type SnapshotFold } from './snapshotSync.js';
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

/**
 * The current trust state of a project, updated incrementally from its snapshot.
 * @returns the state (profiles of this project only)
 */
export function currentTrust(store: EventStore, project: string, rules: TrustRules): TrustState {
  return syncSnapshot(store, trustFold(project, rules));
}

/**
 * Rebuild a project's trust projection from zero and compare it with the incremental one.
 * @returns the rebuilt state and whether the incremental snapshot agreed with it
 */
export function rebuildTrust(store: EventStore, project: string, rules: TrustRules): { state: TrustState; agreed: boolean } {
  // canonicalJson drops undefined properties, so an in-memory state compares equal to its JSON round trip.
  const { state, agreed } = rebuildSnapshot(store, trustFold(project, rules), (a, b) => canonicalJson(a) === canonicalJson(b));
  return { state, agreed };
}
