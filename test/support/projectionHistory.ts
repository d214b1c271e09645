/**
 * A random history of every event kind the projections read, and the two ways to read it (through the
 * persisted projections of a store, and from a fold of the whole log in memory), shared by the SQLite
 * (projections.test.ts) and PostgreSQL (pg-projections.test.ts) projection tests.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { canonicalJson } from '../../src/evidence/canonical.js';
import type { EventInput, EventType, StoredEvent } from '../../src/evidence/events.js';
import { currentControls, projectFacts, rebuildAll, requestRows, verdictRows } from '../../src/evidence/projectionCatalog.js';
import { projectControls } from '../../src/evidence/projections/breakers.js';
import { projectRuns } from '../../src/evidence/projections/runs.js';
import { projectTrust, trustView } from '../../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES } from '../../src/evidence/projections/trust-rules.js';
import { paging } from '../../src/evidence/projectionSync.js';
import { listRuns } from '../../src/evidence/runsStore.js';
import type { EventStore } from '../../src/evidence/store.js';
import { currentTrust } from '../../src/evidence/trustStore.js';
import { agreementOfRows, reviewerAgreement } from '../../src/orchestrator/reviewAsk.js';

export const rules = DEFAULT_TRUST_RULES;
export const PROJECTS = ['p', 'q'] as const;

/** One step of a random history: an event of run `run` (or a run-less control/trust event). */
export const step = fc.record({
  run: fc.nat(11),
  project: fc.constantFrom(...PROJECTS),
  agent: fc.constantFrom('claude', 'gemini'),
  taskType: fc.constantFrom('docs', 'deps'),
  kind: fc.constantFrom(
    'run.planned', 'run.planned', 'sandbox.created', 'agent.launched', 'tool.called', 'agent.usage', 'agent.exited', 'sandbox.committed', 'gate.passed', 'gate.failed',
    'scope.violation', 'run.decided', 'run.merged', 'run.discarded', 'run.failed', 'run.interrupted', 'sandbox.removed', 'sandbox.restored', 'audit.sampled', 'audit.agreed',
    'task.requested', 'review.agent_verdict', 'agent.handover', 'trust.promoted', 'breaker.tripped', 'breaker.reset', 'system.halted', 'system.resumed', 'regression.detected', 'merge.failed',
  ),
  n: fc.nat(5),
});
export type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** The event a step stands for (payloads valid for their type's schema). Run ids are per project so runs of both projects interleave. */
export function eventOf(s: Step): EventInput {
  const subject = { runId: `${s.project}-run-${s.run}`, task: `t${s.run % 3}`, agent: s.agent, project: s.project, taskType: s.taskType };
  const sha = (c: string) => c.repeat(40);
  const by = { by: 'me', host: null };
  const payloads: Record<Step['kind'], Record<string, unknown>> = {
    'run.planned': { title: `run ${s.run}`, taskFile: `tasks/t${s.run % 3}.md`, requestedBy: null, requested: 'review', effective: 'review', reasons: [], profiles: ['implement'], claim: false, repoRoot: '/repo', baseBranch: 'main', baseSha: sha('a'), gate: null, timeoutMs: null, sandbox: s.n % 2 ? 'os' : 'none', ownerPid: 1, ownerStart: '1' },
    'sandbox.created': { path: `/w/${s.run}`, branch: `b${s.run}`, baseSha: sha('a'), gitDir: `/repo/.git/worktrees/${s.run}` },
    'sandbox.restored': { path: `/w/${s.run}`, branch: `b${s.run}`, headSha: sha('b'), gitDir: `/repo/.git/worktrees/${s.run}` },
    'agent.launched': { bin: s.agent, args: [], interactive: false, timeoutMs: null, pid: 10 + s.n, pidStart: '1', sandbox: 'os' },
    'tool.called': { id: `tool-${s.n}`, tool: 'Edit', input: { file_path: `src/x${s.n}` }, path: `src/x${s.n}` },
    'agent.usage': { inputTokens: s.n * 10, outputTokens: s.n, costUsd: s.n / 100, turns: 1 },
    'agent.exited': { exitCode: s.n % 2, signal: null, timedOut: false, durationMs: 1000 * s.n, interrupted: false, stoppedBy: null, summary: `done ${s.n}`, error: null, sessionId: null },
    'sandbox.committed': { headSha: sha('c'), files: [{ path: `src/f${s.n}.ts`, insertions: s.n, deletions: 1 }], insertions: s.n, deletions: 1, bytes: 10 * s.n },
    'gate.passed': { command: 'npm test', exitCode: 0, timedOut: false, durationMs: 10, output: 'ok', sandbox: 'os' },
    'gate.failed': { command: 'npm test', exitCode: 1, timedOut: false, durationMs: 10, output: 'no', sandbox: 'os' },
    'scope.violation': { path: `src/x${s.n}`, reason: 'r', protected: false },
    'run.decided': { outcome: ['review', 'merge', 'failed'][s.n % 3], reasons: [] },
    'run.merged': { mergeSha: sha('d'), baseBranch: 'main', ...by, auto: false, strategy: 'rebase' },
    'run.discarded': { ...by, reason: 'r', archiveRef: null, headSha: null },
    'run.failed': { step: 'agent', error: 'r' },
    'run.interrupted': { reason: 'r', recovered: true, killedAgent: false },
    'sandbox.removed': { path: `/w/${s.run}`, reason: 'r', branchKept: null },
    'audit.sampled': { probability: 0.5, roll: 0.25, changedLines: s.n, sensitive: false },
    'audit.agreed': { ...by, note: null },
    // Ids collide on purpose (latest request wins); one in six is not a string.
    'task.requested': { id: s.n === 5 ? 42 : `follow-${s.n % 3}`, title: `follow ${s.run}`, prompt: 'do it', parentRun: subject.runId, parentTask: subject.task, parentProfiles: [] },
    'review.agent_verdict': { reviewer: ['claude', 'codex'][s.n % 2], verdict: ['approve', 'reject', 'none'][s.n % 3], comments: '', exitCode: 0, timedOut: false },
    'agent.handover': { text: `note ${s.run}/${s.n}` },
    'trust.promoted': { agent: s.agent, project: s.project, taskType: s.taskType, from: 'review', to: s.n % 2 ? 'auto' : 'review', ...by, evidence: {}, note: null },
    'breaker.tripped': { breaker: ['volume', 'scope'][s.n % 2], agent: s.agent, project: s.project, reason: 'x' },
    'breaker.reset': { breaker: ['volume', 'scope'][s.n % 2], agent: s.agent, project: s.project, ...by, note: null },
    'system.halted': { ...by, reason: 'r' },
    'system.resumed': { ...by, note: null },
    'regression.detected': { kind: 'revert', commit: sha('e'), subject: 'Revert' },
    'merge.failed': { reason: 'conflict', auto: false },
  };
  const payload = payloads[s.kind];
  const type = s.kind as EventType;
  if (s.kind === 'trust.promoted') return { agent: s.agent, project: s.project, taskType: s.taskType, type, payload } as EventInput;
  if (s.kind === 'breaker.tripped' || s.kind === 'breaker.reset') return { agent: s.agent, project: s.project, type, payload } as EventInput;
  if (s.kind === 'system.halted' || s.kind === 'system.resumed') return { type, payload } as EventInput;
  return { ...subject, type, payload } as EventInput;
}

/** Every projection read through the persisted layer, as plain data. */
export function persisted(store: EventStore, project: string) {
  const runs = listRuns(store, project).runs;
  return {
    runs: runs.map((r) => canonicalJson(r)),
    order: runs.map((r) => r.runId),
    review: listRuns(store, project, { group: 'review' }).runs.map((r) => r.runId),
    trust: canonicalJson(currentTrust(store, project, rules)),
    controls: canonicalJson(currentControls(store)),
    requests: requestRows(store, project).map((r) => canonicalJson(r)),
    reviewers: canonicalJson(agreementOfRows(verdictRows(store, project))),
    facts: canonicalJson(projectFacts(store, project)),
  };
}

/** The same from a fold of the whole log in memory (the definitions). */
export function fromZero(events: StoredEvent[], project: string) {
  const mine = events.filter((e) => e.project === project);
  const runs = [...projectRuns(mine).values()].reverse();
  const requests = new Map<string, StoredEvent>();
  for (const e of mine) if (e.type === 'task.requested') requests.set(typeof e.payload.id === 'string' ? `id:${e.payload.id}` : `invalid:${e.seq}`, e);
  // A run's last note is handed over once the run is merged (the latest merge per task type wins); a
  // discarded run's is dropped; an undecided run's waits (the newest 500).
  const pending = new Map<string, { taskType: string; text: string }>();
  const handovers: Record<string, string> = {};
  for (const e of mine) {
    if (!e.runId) continue;
    if (e.type === 'agent.handover' && e.taskType) {
      pending.delete(e.runId);
      pending.set(e.runId, { taskType: e.taskType, text: String(e.payload.text) });
    } else if ((e.type === 'run.merged' || e.type === 'run.discarded') && pending.has(e.runId)) {
      const note = pending.get(e.runId)!;
      pending.delete(e.runId);
      if (e.type === 'run.merged') handovers[note.taskType] = note.text;
    }
  }
  const facts = { agents: [...new Set(mine.filter((e) => e.type === 'run.planned').map((e) => e.agent!))], handovers, pending: Object.fromEntries([...pending].slice(-500)) };
  return {
    runs: runs.map((r) => canonicalJson(r)),
    order: runs.map((r) => r.runId),
    review: runs.filter((r) => r.sandboxLive && ['awaiting_review', 'failed', 'interrupted'].includes(r.state)).map((r) => r.runId),
    // What readers see: the view cut from the state folded from zero.
    trust: canonicalJson(trustView(projectTrust(mine, rules), rules)),
    controls: canonicalJson(projectControls(events)),
    requests: [...requests.values()].map((e) => canonicalJson({ seq: e.seq, runId: e.runId, agent: e.agent, taskType: e.taskType, payload: e.payload })),
    reviewers: canonicalJson(reviewerAgreement(mine)),
    facts: canonicalJson(facts),
  };
}

/** Property arguments: a history, where to cut it into appends, and the events page size. */
export const history = [fc.array(step, { minLength: 1, maxLength: 120 }), fc.array(fc.nat(120), { maxLength: 4 }), fc.integer({ min: 2, max: 9 })] as const;

/**
 * Append `steps` in chunks (cut at `cuts`), each through a store opened by `open` and closed after, reading
 * some projections mid-way; then check that every projection read through the store equals a fold from
 * zero, and that a rebuild agrees with what was kept incrementally.
 */
export function incrementalAgrees(open: () => EventStore, steps: Step[], cuts: number[], page: number): void {
  paging.events = page;
  const bounds = [...new Set([0, ...cuts.filter((c) => c < steps.length), steps.length])].sort((a, b) => a - b);
  for (let i = 1; i < bounds.length; i++) {
    const store = open();
    try {
      store.append(steps.slice(bounds[i - 1], bounds[i]).map(eventOf));
      // Read (and so save) some projections mid-way, not others: each catches up on its own.
      if (i % 2) persisted(store, 'p');
      else listRuns(store, 'q', { limit: 2 });
    } finally {
      store.close();
    }
  }
  const store = open();
  try {
    const all = store.query();
    for (const project of PROJECTS) expect(persisted(store, project)).toEqual(fromZero(all, project));
    // The rebuild (folded in one page, so no view is reloaded from JSON midway) agrees with what was kept incrementally.
    paging.events = 10_000;
    for (const project of PROJECTS) expect(rebuildAll(store, project, rules).agreed).toBe(true);
  } finally {
    store.close();
  }
}
