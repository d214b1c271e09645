/**
 * Keeping the trust projection current: load the persisted snapshot for a project, fold in the events
 * appended since, save it back. A snapshot computed with other rules is thrown away and rebuilt.
 */
import { canonicalJson, sha256 } from './canonical.js';
import { applyTrustEvent, emptyTrustState, projectTrust, type TrustState } from './projections/trust.js';
import type { TrustRules } from './projections/trust-rules.js';
import type { EventStore } from './store.js';

const snapshotName = (project: string) => `trust:${project}`;

/** Version of the projection's own logic: a snapshot from another version is rebuilt from the log. */
const PROJECTION_LOGIC = 3; // 2: runs without the OS sandbox earn nothing; 3: rounds per run (merges after requested changes)

/** Hash of the rules (and projection logic version) a snapshot was computed with. */
export function rulesHash(rules: TrustRules): string {
  return sha256(canonicalJson({ rules, logic: PROJECTION_LOGIC })).slice(0, 16);
}

/** The snapshot with the events appended since folded in; `stale` when the stored snapshot must be replaced. */
function incrementalTrust(store: EventStore, project: string, rules: TrustRules, hash: string): { state: TrustState; stale: boolean } {
  const snap = store.loadProjection(snapshotName(project));
  let state: TrustState = emptyTrustState();
  if (snap && snap.rulesHash === hash) {
    try {
      state = JSON.parse(snap.state) as TrustState;
    } catch {
      state = emptyTrustState();
    }
  }
  const before = state.lastSeq;
  for (const e of store.query({ project, afterSeq: state.lastSeq })) applyTrustEvent(state, e, rules);
  return { state, stale: state.lastSeq !== before || !snap || snap.rulesHash !== hash };
}

function saveTrust(store: EventStore, project: string, hash: string, state: TrustState): void {
  store.saveProjection({ name: snapshotName(project), lastSeq: state.lastSeq, rulesHash: hash, state: JSON.stringify(state) });
}

/**
 * The current trust state of a project, updated incrementally from its snapshot.
 * @returns the state (profiles of this project only)
 */
export function currentTrust(store: EventStore, project: string, rules: TrustRules): TrustState {
  const hash = rulesHash(rules);
  const { state, stale } = incrementalTrust(store, project, rules, hash);
  if (stale) saveTrust(store, project, hash, state);
  return state;
}

/**
 * Rebuild a project's trust projection from zero and compare it with the incremental one.
 * @returns the rebuilt state and whether the incremental snapshot agreed with it
 */
export function rebuildTrust(store: EventStore, project: string, rules: TrustRules): { state: TrustState; agreed: boolean } {
  const hash = rulesHash(rules);
  const incremental = incrementalTrust(store, project, rules, hash).state;
  const rebuilt = projectTrust(store.query({ project }), rules);
  // canonicalJson drops undefined properties, so an in-memory state compares equal to its JSON round trip.
  const agreed = canonicalJson(incremental) === canonicalJson(rebuilt);
  saveTrust(store, project, hash, rebuilt);
  return { state: rebuilt, agreed };
}
