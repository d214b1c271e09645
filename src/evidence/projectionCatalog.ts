/**
 * Every persisted projection of a log, in one place: the kill switch and breakers (one snapshot for all
 * projects), follow-up requests and runs (rows per project), trust (a snapshot per project), and the
 * rebuild of them all that `agentctl projections rebuild` (and `trust rebuild`) runs.
 */
import { canonicalJson } from './canonical.js';
import type { ProgressFn } from '../core/progress.js';
import type { StoredEvent } from './events.js';
import { CONTROL_EVENT_TYPES, HOUR_MS, activityOf, addActivity, applyControlEvent, emptyControls, type Activity, type Controls } from './projections/breakers.js';
import type { TrustRules } from './projections/trust-rules.js';
import type { TrustState } from './projections/trust.js';
import { clearScratch, finishRebuildRows, foldScratchPage, paging, readRows, readRowsBehind, selects, valueOf, type RebuildReport, type RowFold } from './projectionSync.js';
import { rebuildSnapshot, syncSnapshot, type SnapshotFold } from './snapshotSync.js';
import { runsFold } from './runsStore.js';
import type { EventStore } from './store.js';
import { saveTrustView, trustFold } from './trustStore.js';

/** The kill-switch and breaker fold (all projects: the kill switch is global). */
export const controlsFold: SnapshotFold<Controls> = {
  name: 'controls',
  version: 'controls/1',
  filter: { types: CONTROL_EVENT_TYPES },
  empty: emptyControls,
  apply: applyControlEvent,
};

/** The current control state, from its snapshot plus the control events since. */
export function currentControls(store: EventStore): Controls {
  return syncSnapshot(store, controlsFold);
}

/** One agent's activity in one clock hour of a project (a row of {@link activityFold}). */
export interface HourActivity extends Activity {
  agent: string;
  /** Clock hour: epoch ms of the event times ÷ {@link HOUR_MS}, floored. */
  hour: number;
}

/**
 * The hourly activity of `project`: one row per agent and clock hour of the event times, summing what
 * its `run.planned` and `sandbox.committed` events add to the agent's volume (activityOf). The volume
 * breaker's norm (7 days) reads ≤ 193 rows per agent from it instead of a week of events
 * (orchestrator/breakerWindow.ts). Rows are grouped by agent and ordered by hour.
 */
export function activityFold(project: string): RowFold<HourActivity> {
  return {
    name: `activity:${project}`,
    version: 'activity/1',
    filter: { project, types: ['run.planned', 'sandbox.committed'] },
    apply(rows, e: StoredEvent) {
      if (e.project !== project || !e.agent) return;
      const hour = Math.floor(Date.parse(e.ts) / HOUR_MS);
      const a = Number.isFinite(hour) ? activityOf(e) : undefined;
      if (!a) return;
      const key = `${e.agent}\u0000${hour}`;
      const row = rows.get(key) ?? { agent: e.agent, hour, runs: 0, lines: 0, bytes: 0 };
      rows.set(key, addActivity({ ...row }, a), hour);
    },
    index: (v) => ({ kind: null, group: v.agent }),
  };
}

/**
 * Each of `agents`' hourly activity in `project` for the clock hours `fromHour` … `toHour` (inclusive;
 * an hour is epoch ms ÷ HOUR_MS, floored; one index read per agent of at most that many rows). Hours
 * without activity have no row.
 *
 * Read without a write while at most a page of events behind (readRowsBehind: the run guard asks every
 * 400 ms while its run appends): the rows as saved, with the activity events since folded into copies.
 * @returns per agent, its rows newest hour first
 * @throws InternalError for an activity event whose older payload does not parse (activityOf), and
 *   whatever the store throws
 */
export function hourlyActivity(store: EventStore, project: string, agents: readonly string[], fromHour: number, toHour: number): Map<string, HourActivity[]> {
  if (toHour < fromHour) return new Map(agents.map((a) => [a, []]));
  const fold = activityFold(project);
  return readRowsBehind(store, fold, paging.events, (reader, pending) => {
    const byKey = new Map<string, HourActivity>();
    for (const agent of agents) {
      for (const row of reader.list({ group: agent, beforeOrder: toHour + 1, limit: toHour - fromHour + 1 })) {
        if (row.order >= fromHour) byKey.set(row.key, valueOf<HourActivity>(row));
      }
    }
    // The events since the head, folded into copies of the rows read.
    const access = {
      get: (key: string) => byKey.get(key),
      set: (key: string, value: HourActivity) => void (value.hour >= fromHour && value.hour <= toHour && agents.includes(value.agent) && byKey.set(key, value)),
      delete: (key: string) => void byKey.delete(key),
    };
    for (const e of pending) fold.apply(access, e);
    const out = new Map<string, HourActivity[]>(agents.map((a) => [a, []]));
    for (const v of byKey.values()) out.get(v.agent)!.push(v);
    for (const list of out.values()) list.sort((x, y) => y.hour - x.hour);
    return out;
  });
}

/** A follow-up task request as stored: the latest `task.requested` event for an id (or an invalid one). */
export interface RequestRow {
  seq: number;
  runId: string | undefined;
  agent: string | undefined;
  taskType: string | undefined;
  payload: Record<string, unknown>;
}

/**
 * The follow-up requests of `project`: one row per requested id (the latest request; the row keeps the
 * position of the first, as a Map would), plus one row per request whose id is not a string
 * (`invalid:<seq>`), so the reader can report it.
 */
export function requestsFold(project: string): RowFold<RequestRow> {
  return {
    name: `requests:${project}`,
    version: 'requests/1',
    filter: { project, types: ['task.requested'] },
    apply(rows, e: StoredEvent) {
      if (e.type !== 'task.requested' || e.project !== project) return;
      const id = e.payload.id;
      const row: RequestRow = { seq: e.seq, runId: e.runId, agent: e.agent, taskType: e.taskType, payload: e.payload };
      const key = typeof id === 'string' ? `id:${id}` : `invalid:${e.seq}`;
      rows.set(key, row, rows.get(key) ? undefined : e.seq);
    },
    index: () => ({ kind: null, group: null }),
  };
}

/** Follow-up requests of `project`, in the order they were first made. */
export function requestRows(store: EventStore, project: string): RequestRow[] {
  return readRows(store, requestsFold(project), (r) => r.list().map((row) => valueOf<RequestRow>(row)).reverse());
}

/**
 * Small per-project facts: agents that ran (first run first), and per task type the handover note of the
 * latest merged run that left one. A note reaches the next run's prompt only once a human (or an earned
 * auto merge) accepted its run: a discarded or undecided run (an agent that planted instructions for
 * the next, wider run of its type) hands nothing over.
 */
export interface ProjectFacts {
  agents: string[];
  handovers: Record<string, string>;
  /** Notes of runs not merged yet, by run id (at most {@link PENDING_HANDOVERS}, the newest). */
  pending: Record<string, { taskType: string; text: string }>;
}

/** How many undecided runs' handover notes the facts keep, waiting for their merge. */
const PENDING_HANDOVERS = 500;

/** The fold of {@link ProjectFacts}. */
export function factsFold(project: string): SnapshotFold<ProjectFacts> {
  return {
    name: `facts:${project}`,
    version: 'facts/2',
    filter: { project, types: ['run.planned', 'agent.handover', 'run.merged', 'run.discarded'] },
    empty: () => ({ agents: [], handovers: {}, pending: {} }),
    apply(state, e) {
      if (e.project !== project) return;
      if (e.type === 'run.planned' && e.agent && !state.agents.includes(e.agent)) state.agents.push(e.agent);
      if (!e.runId) return;
      // Computed keys stay own data properties, even "__proto__".
      if (e.type === 'agent.handover' && e.taskType) {
        const { [e.runId]: _replaced, ...rest } = state.pending;
        void _replaced;
        const kept = Object.entries(rest).slice(-(PENDING_HANDOVERS - 1));
        state.pending = { ...Object.fromEntries(kept), [e.runId]: { taskType: e.taskType, text: String(e.payload.text) } };
      } else if (e.type === 'run.merged' || e.type === 'run.discarded') {
        const note = Object.hasOwn(state.pending, e.runId) ? state.pending[e.runId] : undefined;
        if (note) {
          const { [e.runId]: _done, ...rest } = state.pending;
          void _done;
          state.pending = rest;
          if (e.type === 'run.merged') state.handovers = { ...state.handovers, [note.taskType]: note.text };
        }
      }
    },
  };
}

/** {@link ProjectFacts} of `project`, current. */
export function projectFacts(store: EventStore, project: string): ProjectFacts {
  return syncSnapshot(store, factsFold(project));
}

/** What reviewer agents said about one run, and how a human decided it (the last merge or discard). */
export interface VerdictRow {
  outcome: 'merged' | 'discarded' | undefined;
  verdicts: { seq: number; reviewer: string; verdict: string }[];
}

/**
 * Reviewer agents' verdicts per run (rows in group `verdict`) with each run's outcome: the persisted form
 * of reviewerAgreement (reviewAsk.ts). Runs without a verdict keep only their outcome (no group).
 */
export function verdictsFold(project: string): RowFold<VerdictRow> {
  return {
    name: `verdicts:${project}`,
    version: 'verdicts/1',
    filter: { project, types: ['run.merged', 'run.discarded', 'review.agent_verdict'] },
    apply(rows, e) {
      if (!e.runId || e.project !== project) return;
      const row = rows.get(e.runId);
      if (e.type === 'run.merged' || e.type === 'run.discarded') {
        rows.set(e.runId, { outcome: e.type === 'run.merged' ? 'merged' : 'discarded', verdicts: row?.verdicts ?? [] }, row ? undefined : e.seq);
      } else if (e.type === 'review.agent_verdict') {
        rows.set(e.runId, { outcome: row?.outcome, verdicts: [...(row?.verdicts ?? []), { seq: e.seq, reviewer: String(e.payload.reviewer), verdict: String(e.payload.verdict) }] }, row ? undefined : e.seq);
      }
    },
    index: (v) => ({ kind: null, group: v.verdicts.length ? 'verdict' : null }),
  };
}

/** Runs of `project` that reviewer agents gave a verdict on (an index read: runs without verdicts are not read). */
export function verdictRows(store: EventStore, project: string): VerdictRow[] {
  return readRows(store, verdictsFold(project), (r) => r.list({ group: 'verdict' }).map((row) => valueOf<VerdictRow>(row)));
}

/** What `agentctl projections rebuild` found for one project. */
export interface RebuildSummary {
  runs: RebuildReport;
  requests: RebuildReport;
  verdicts: RebuildReport;
  activity: RebuildReport;
  trust: { profiles: number; lastSeq: number; agreed: boolean };
  controls: { lastSeq: number; agreed: boolean };
  facts: { lastSeq: number; agreed: boolean };
  /** True when every incremental projection agreed with its rebuild. */
  agreed: boolean;
}

/** Events read per page by {@link rebuildAll}'s one pass over the log (tests lower it to cross pages). */
export const rebuildPaging = { events: 5_000 };

/**
 * Rebuild every projection of `project` (and the global controls) from zero, compare each with its
 * incremental version, and keep the rebuilt ones. The log is read once, a page at a time, each page
 * folded into every projection (the row projections' scratch copies, the snapshots' states); each is
 * then brought to the head and compared on its own. Linear in the log's length, flat in memory.
 * @param onProgress told how far it got, out of four times the log's events at the start: reading them
 *   (three per event, the bulk of the time) then the comparisons (a quarter of the rest per row projection)
 */
export function rebuildAll(store: EventStore, project: string, rules: TrustRules, onProgress?: ProgressFn): RebuildSummary {
  const rowFolds = [runsFold(project), requestsFold(project), verdictsFold(project), activityFold(project)] as RowFold<unknown>[];
  const snapshotFolds = [trustFold(project, rules), controlsFold, factsFold(project)] as SnapshotFold<unknown>[];
  for (const f of rowFolds) clearScratch(store, f);
  const events = store.headSeq();
  const report = (done: number) => onProgress?.(Math.min(done, 4 * events), 4 * events);
  report(0);
  const states = snapshotFolds.map((f) => f.empty());
  // A row projection's events wait until they fill a page (one transaction each, as when it is synced
  // on its own): a projection of few events (follow-up requests) is not written once per page read.
  const pending = rowFolds.map((): StoredEvent[] => []);
  const written = rowFolds.map(() => 0);
  const flush = (i: number, lastSeq: number) => {
    foldScratchPage(store, rowFolds[i]!, pending[i]!, written[i]!, lastSeq);
    written[i] = lastSeq;
    pending[i] = [];
  };
  let seq = 0;
  for (;;) {
    const head = store.headSeq();
    if (seq >= head) break;
    const page = store.query({ afterSeq: seq, limit: rebuildPaging.events });
    const full = page.length === rebuildPaging.events;
    // An incomplete page holds every event up to the head read before it.
    const lastSeq = full ? page.at(-1)!.seq : Math.max(page.at(-1)?.seq ?? seq, head);
    rowFolds.forEach((f, i) => {
      for (const e of page) if (selects(f.filter, e)) pending[i]!.push(e);
      if (pending[i]!.length >= rebuildPaging.events) flush(i, lastSeq);
    });
    snapshotFolds.forEach((f, i) => {
      for (const e of page) if (selects(f.filter, e)) f.apply(states[i], e);
    });
    seq = lastSeq;
    report(3 * Math.min(seq, events));
    if (!full) break;
  }
  rowFolds.forEach((_f, i) => {
    if (pending[i]!.length || written[i]! < seq) flush(i, seq);
  });
  const [runs, requests, verdicts, activity] = rowFolds.map((f, i) => {
    const r = finishRebuildRows(store, f);
    report(3 * events + Math.floor((events * (i + 1)) / rowFolds.length));
    return r;
  }) as [RebuildReport, RebuildReport, RebuildReport, RebuildReport];
  const sameJson = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
  // canonicalJson drops undefined properties, so an in-memory state compares equal to its JSON round trip.
  const [t, c, f] = snapshotFolds.map((fold, i) => rebuildSnapshot(store, fold, sameJson, { state: states[i], lastSeq: seq }));
  const trustState = t!.state as TrustState;
  saveTrustView(store, project, rules, trustState, t!.lastSeq);
  const trust = { profiles: Object.keys(trustState.profiles).length, lastSeq: trustState.lastSeq, agreed: t!.agreed };
  const controls = { lastSeq: c!.lastSeq, agreed: c!.agreed };
  const facts = { lastSeq: f!.lastSeq, agreed: f!.agreed };
  return { runs, requests, verdicts, activity, trust, controls, facts, agreed: [runs, requests, verdicts, activity].every((r) => r.differences.count === 0) && trust.agreed && controls.agreed && facts.agreed };
}
