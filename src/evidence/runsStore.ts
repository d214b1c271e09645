/**
 * The runs projection, persisted: one row per run (its {@link RunView}), indexed by state, by "awaits a
 * human" (review or audit) and by when it was planned, so `runs --limit 20`, `review` and the audit list
 * read only the rows they show. Rows are folded by {@link applyRunEvent}, the same rule as the in-memory
 * {@link projectRuns}.
 */
import { applyRunEvent, isReviewable, type RunState, type RunView } from './projections/runs.js';
import { readRows, valueOf, type RowFold } from './projectionSync.js';
import type { ProjectionRowQuery } from './projectionTables.js';
import type { EventStore } from './store.js';

/** Version of the run fold; bump it when applyRunEvent changes what it stores (rows are then rebuilt). */
export const RUNS_LOGIC = 'runs/3'; // 2: a request for changes clears the last attempt's reasoning and verdicts; 3: file and violation counts (fileCount, insertions, deletions, scopeViolationsMore)

/** Group of a run row: `review` (a human can merge or discard it), `audit` (a sampled auto merge awaiting a verdict), `audited`. */
export type RunGroup = 'review' | 'audit' | 'audited';

const PREFIX = 'runs:';

/** The persisted fold of `project`'s runs. */
export function runsFold(project: string): RowFold<RunView> {
  return {
    name: `${PREFIX}${project}`,
    version: RUNS_LOGIC,
    filter: { project },
    apply(rows, e) {
      if (!e.runId) return;
      const before = rows.get(e.runId);
      const next = applyRunEvent(e.type === 'run.planned' ? undefined : before, e);
      // A run planned again keeps its place (as a Map entry does in projectRuns).
      if (next) rows.set(e.runId, next, before ? undefined : e.seq);
    },
    index(run) {
      const group: RunGroup | null = isReviewable(run) ? 'review' : run.audit === 'sampled' ? 'audit' : run.audit ? 'audited' : null;
      return { kind: run.state, group };
    },
  };
}

/** Selection for {@link listRuns}: newest first. */
export interface RunListQuery {
  states?: readonly RunState[];
  group?: RunGroup;
  /** At most this many runs (default: all). */
  limit?: number;
  /** Only runs planned before this sequence (the `next` of a previous page). */
  before?: number;
}

/** A page of runs, newest first, and where the next page starts (undefined at the end). */
export interface RunPage {
  runs: RunView[];
  next: number | undefined;
}

/**
 * Runs of `project`, newest first, reading only the rows returned (the projection is brought up to
 * date first: it folds only the events since its last use).
 */
export function listRuns(store: EventStore, project: string, q: RunListQuery = {}): RunPage {
  const fold = runsFold(project);
  const query: ProjectionRowQuery = { ...(q.states ? { kinds: q.states } : {}), ...(q.group ? { group: q.group } : {}), ...(q.before !== undefined ? { beforeOrder: q.before } : {}), ...(q.limit !== undefined ? { limit: q.limit + 1 } : {}) };
  return readRows(store, fold, (r) => {
    const rows = r.list(query);
    const more = q.limit !== undefined && rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { runs: page.map((row) => valueOf<RunView>(row)), next: more ? page.at(-1)!.order : undefined };
  });
}

/** Number of runs of `project` in a group or states. */
export function countRuns(store: EventStore, project: string, q: Pick<RunListQuery, 'states' | 'group'>): number {
  return readRows(store, runsFold(project), (r) => r.count({ ...(q.states ? { kinds: q.states } : {}), ...(q.group ? { group: q.group } : {}) }));
}

/** One run by exact id, or undefined. */
export function getRun(store: EventStore, project: string, runId: string): RunView | undefined {
  return readRows(store, runsFold(project), (r) => {
    const row = r.get(runId);
    return row && valueOf<RunView>(row);
  });
}

/**
 * Runs among the newest `scan` of `project` whose id ends with `suffix`: the short id progress lines and
 * `log` print (a run id's last characters, its random part; the leading ones are the time, shared by
 * every run of a day). Only recent runs, so the cost does not grow with the history: an older run is
 * named by its id or a prefix.
 * @param scan how many of the newest runs are searched
 * @returns the matches, newest first
 */
export function runsBySuffix(store: EventStore, project: string, suffix: string, scan = 1000): RunView[] {
  return readRows(store, runsFold(project), (r) => r.list({ limit: scan }).filter((row) => row.key.endsWith(suffix)).map((row) => valueOf<RunView>(row)));
}

/** Runs whose id starts with `prefix` (at most `limit`, newest first). */
export function runsByPrefix(store: EventStore, project: string, prefix: string, limit = 10): RunView[] {
  return readRows(store, runsFold(project), (r) => r.list({ keyPrefix: prefix, limit }).map((row) => valueOf<RunView>(row)));
}

/** Projects whose runs projection exists in this log (for the kill switch, which spans projects). */
export function projectsWithRuns(store: EventStore): string[] {
  return store
    .projections()
    .names()
    .filter((n) => n.startsWith(PREFIX) && !n.endsWith('~rebuild'))
    .map((n) => n.slice(PREFIX.length));
}

