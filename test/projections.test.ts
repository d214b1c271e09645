/**
 * Persisted projections (real SQLite files): folding incrementally, with the store closed and reopened
 * between chunks and pages smaller than a chunk, gives what a fold of the whole log from zero gives;
 * list reads touch only the rows they return; a row edited in the database is detected and rebuilt.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/evidence/canonical.js';
import type { EventInput, EventType, StoredEvent } from '../src/evidence/events.js';
import { controlsFold, currentControls, factsFold, projectFacts, rebuildAll, requestRows, verdictRows } from '../src/evidence/projectionCatalog.js';
import { projectControls } from '../src/evidence/projections/breakers.js';
import { projectRuns, type RunView } from '../src/evidence/projections/runs.js';
import { projectTrust } from '../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES } from '../src/evidence/projections/trust-rules.js';
import { paging } from '../src/evidence/projectionSync.js';
import { syncSnapshot } from '../src/evidence/snapshotSync.js';
import { getRun, listRuns } from '../src/evidence/runsStore.js';
import { openEventStore, type EventStore } from '../src/evidence/store.js';
import { currentTrust } from '../src/evidence/trustStore.js';
import { agreementOfRows, reviewerAgreement } from '../src/orchestrator/reviewAsk.js';
import { cleanup, tempDir } from './helpers.js';
import { SAMPLES, sample } from './fixtures/eventSamples.js';

afterEach(cleanup);
const defaultPage = paging.events;
beforeEach(() => void (paging.events = defaultPage));
afterEach(() => void (paging.events = defaultPage));

const rules = DEFAULT_TRUST_RULES;
const PROJECTS = ['p', 'q'] as const;

/** One step of a random history: an event of run `run` (or a run-less control/trust event). */
const step = fc.record({
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
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** The event a step stands for. Run ids are per project so runs of both projects interleave. */
function eventOf(s: Step): EventInput {
  const subject = { runId: `${s.project}-run-${s.run}`, task: `t${s.run % 3}`, agent: s.agent, project: s.project, taskType: s.taskType };
  const k = s.kind as EventType;
  switch (s.kind) {
    case 'run.planned':
      return { ...subject, type: 'run.planned', payload: sample('run.planned', { title: `run ${s.run}`, requested: 'review', effective: 'review', reasons: [], sandbox: s.n % 2 ? 'os' : 'none', ownerPid: 1, ownerStart: null }) };
    case 'sandbox.created':
      return { ...subject, type: 'sandbox.created', payload: sample('sandbox.created', { path: `/w/${s.run}`, branch: `b${s.run}`, baseSha: 'a'.repeat(40) }) };
    case 'sandbox.restored':
      return { ...subject, type: 'sandbox.restored', payload: sample('sandbox.restored', { path: `/w/${s.run}`, branch: `b${s.run}`, headSha: 'b'.repeat(40) }) };
    case 'agent.usage':
      return { ...subject, type: 'agent.usage', payload: sample('agent.usage', { inputTokens: s.n * 10, outputTokens: s.n, costUsd: s.n / 100 }) };
    case 'agent.exited':
      return { ...subject, type: 'agent.exited', payload: sample('agent.exited', { exitCode: s.n % 2, timedOut: false, summary: `done ${s.n}`, durationMs: 1000 * s.n }) };
    case 'sandbox.committed':
      return { ...subject, type: 'sandbox.committed', payload: sample('sandbox.committed', { headSha: 'c'.repeat(40), files: [{ path: `src/f${s.n}.ts`, insertions: s.n, deletions: 1 }], insertions: s.n, deletions: 1, bytes: 10 * s.n }) };
    case 'run.decided':
      return { ...subject, type: 'run.decided', payload: sample('run.decided', { outcome: (['review', 'merge', 'failed'] as const)[s.n % 3] }) };
    case 'task.requested':
      // Ids collide on purpose (latest request wins); one in six is not a string (the agent's own file).
      return { ...subject, type: 'task.requested', payload: { ...sample('task.requested'), id: s.n === 5 ? 42 : `follow-${s.n % 3}`, title: `follow ${s.run}`, prompt: 'do it' } };
    case 'review.agent_verdict':
      return { ...subject, type: 'review.agent_verdict', payload: sample('review.agent_verdict', { reviewer: ['claude', 'codex'][s.n % 2]!, verdict: (['approve', 'reject', 'none'] as const)[s.n % 3], comments: '' }) };
    case 'agent.handover':
      return { ...subject, type: 'agent.handover', payload: sample('agent.handover', { text: `note ${s.run}/${s.n}` }) };
    case 'trust.promoted':
      return { agent: s.agent, project: s.project, taskType: s.taskType, type: 'trust.promoted', payload: sample('trust.promoted', { agent: s.agent, project: s.project, taskType: s.taskType, to: s.n % 2 ? 'auto' : 'review', by: 'me' }) };
    case 'breaker.tripped':
      return { agent: s.agent, project: s.project, type: 'breaker.tripped', payload: sample('breaker.tripped', { breaker: (['volume', 'scope'] as const)[s.n % 2], agent: s.agent, project: s.project, reason: 'x' }) };
    case 'breaker.reset':
      return { agent: s.agent, project: s.project, type: 'breaker.reset', payload: sample('breaker.reset', { breaker: (['volume', 'scope'] as const)[s.n % 2], agent: s.agent, project: s.project, by: 'me' }) };
    case 'system.halted':
      return { type: 'system.halted', payload: sample('system.halted', { by: 'me', reason: 'r' }) };
    case 'system.resumed':
      return { type: 'system.resumed', payload: sample('system.resumed', { by: 'me' }) };
    default:
      // Every other type: its real sample payload (the run's subject varies, the payload need not).
      return { ...subject, type: k, payload: SAMPLES[k] } as EventInput;
  }
}

/** Every projection read through the persisted layer, as plain data. */
function persisted(store: EventStore, project: string) {
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
function fromZero(events: StoredEvent[], project: string) {
  const mine = events.filter((e) => e.project === project);
  const runs = [...projectRuns(mine).values()].reverse();
  const requests = new Map<string, StoredEvent>();
  for (const e of mine) if (e.type === 'task.requested') requests.set(typeof e.payload.id === 'string' ? `id:${e.payload.id}` : `invalid:${e.seq}`, e);
  const facts = { agents: [...new Set(mine.filter((e) => e.type === 'run.planned').map((e) => e.agent!))], handovers: Object.fromEntries(mine.filter((e) => e.type === 'agent.handover').map((e) => [e.taskType!, String(e.payload.text)])) };
  return {
    runs: runs.map((r) => canonicalJson(r)),
    order: runs.map((r) => r.runId),
    review: runs.filter((r) => r.sandboxLive && ['awaiting_review', 'failed', 'interrupted'].includes(r.state)).map((r) => r.runId),
    trust: canonicalJson(projectTrust(mine, rules)),
    controls: canonicalJson(projectControls(events)),
    requests: [...requests.values()].map((e) => canonicalJson({ seq: e.seq, runId: e.runId, agent: e.agent, taskType: e.taskType, payload: e.payload })),
    reviewers: canonicalJson(reviewerAgreement(mine)),
    facts: canonicalJson(facts),
  };
}

describe('persisted projections', () => {
  it('incremental (store reopened between chunks, pages smaller than chunks) == a fold from zero, for every projection (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), fc.array(fc.nat(120), { maxLength: 4 }), fc.integer({ min: 2, max: 9 }), (steps, cuts, page) => {
        paging.events = page;
        const file = join(tempDir(), 'agentctl.db');
        const bounds = [...new Set([0, ...cuts.filter((c) => c < steps.length), steps.length])].sort((a, b) => a - b);
        for (let i = 1; i < bounds.length; i++) {
          const store = openEventStore(file);
          try {
            store.append(steps.slice(bounds[i - 1], bounds[i]).map(eventOf));
            // Read (and so save) some projections mid-way, not others: each catches up on its own.
            if (i % 2) persisted(store, 'p');
            else listRuns(store, 'q', { limit: 2 });
          } finally {
            store.close();
          }
        }
        const store = openEventStore(file);
        try {
          const all = store.query();
          for (const project of PROJECTS) expect(persisted(store, project)).toEqual(fromZero(all, project));
          // The rebuild (folded in one page, so no view is reloaded from JSON midway) agrees with what was kept incrementally.
          paging.events = 10_000;
          for (const project of PROJECTS) expect(rebuildAll(store, project, rules).agreed).toBe(true);
        } finally {
          store.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a view folded across pages (reloaded from JSON between) agrees with one folded in one go', () => {
    const store = openEventStore(join(tempDir(), 'agentctl.db'));
    try {
      const s = { run: 1, project: 'p' as const, agent: 'claude' as const, taskType: 'docs' as const, n: 1 };
      store.append(eventOf({ ...s, kind: 'run.planned' }));
      expect(listRuns(store, 'p').runs).toHaveLength(1);
      store.append(eventOf({ ...s, kind: 'sandbox.created' }));
      expect(listRuns(store, 'p').runs[0]!.worktree).toBe('/w/1');
      expect(rebuildAll(store, 'p', rules)).toMatchObject({ agreed: true, runs: { differences: { count: 0 } } });
    } finally {
      store.close();
    }
  });

  it('two processes advancing the same projections at once fold each event exactly once', async () => {
    const file = join(tempDir(), 'agentctl.db');
    const seed = openEventStore(file);
    const steps = fc.sample(step, { numRuns: 400, seed: 7 });
    seed.append(steps.map(eventOf));
    seed.close();
    paging.events = 13;
    // Two connections interleave page by page (the write transaction re-reads the head each time).
    const a = openEventStore(file);
    const b = openEventStore(file);
    try {
      for (let i = 0; i < 40; i++) {
        listRuns(i % 2 ? a : b, 'p', { limit: 1 });
        (i % 2 ? b : a).append(eventOf(steps[i]!));
      }
      expect(persisted(a, 'p')).toEqual(fromZero(a.query(), 'p'));
      expect(persisted(b, 'p')).toEqual(fromZero(b.query(), 'p'));
    } finally {
      a.close();
      b.close();
    }
  });

  it('`runs --limit 20` on a log of many runs reads only the rows it returns', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      const runs = 3000;
      for (let i = 0; i < runs; i += 500) {
        store.append(Array.from({ length: 500 }, (_, k) => eventOf({ run: i + k, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.planned', n: 1 })).map((e) => ({ ...e, runId: `r${String(e.runId!.split('-').at(-1)).padStart(5, '0')}` })));
      }
      listRuns(store, 'p', { limit: 1 }); // bring the projection up to date first
      const db = store.db;
      expect((db.prepare('SELECT count(*) AS n FROM projection_rows').get() as { n: number }).n).toBe(runs);
      // A store that counts what the read takes from it: rows from the projection, events from the log.
      let rows = 0;
      let events = 0;
      const tables = store.projections();
      const counting: EventStore = {
        ...store,
        query: (q) => {
          const out = store.query(q);
          events += out.length;
          return out;
        },
        projections: () => ({
          ...tables,
          reader: (name) => {
            const r = tables.reader(name);
            return {
              ...r,
              list: (q) => {
                const out = r.list(q);
                rows += out.length;
                return out;
              },
              get: (k) => {
                rows++;
                return r.get(k);
              },
            };
          },
        }),
      };
      const page = listRuns(counting, 'p', { limit: 20 });
      expect(rows).toBe(21); // the page and one more (to know whether there is a next page)
      expect(events).toBe(0);
      expect(page.runs.map((r) => r.runId)).toEqual(Array.from({ length: 20 }, (_, k) => `r${String(runs - 1 - k).padStart(5, '0')}`));
      expect(page.next).toBeDefined();
      // The plan SQLite chooses walks the (name, ord) index backwards and stops after the page: no sort, no scan.
      const plan = (db.prepare("EXPLAIN QUERY PLAN SELECT key, kind, grp, ord, value, mac FROM projection_rows WHERE name = ? ORDER BY ord DESC LIMIT 21").all('runs:p') as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan).toMatch(/USING INDEX projection_rows_by_order/);
      expect(plan).not.toMatch(/TEMP B-TREE|SCAN projection_rows/);
      const next = listRuns(store, 'p', { limit: 20, before: page.next! });
      expect(next.runs[0]!.runId).toBe(`r${String(runs - 21).padStart(5, '0')}`);
    } finally {
      store.close();
    }
  });

  it('a row edited in the database fails authentication and the projection is rebuilt from the log', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      store.append([eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.planned', n: 1 }), eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.discarded', n: 1 })]);
      expect(getRun(store, 'p', 'p-run-1')!.state).toBe('discarded');
      const forged: RunView = { ...getRun(store, 'p', 'p-run-1')!, state: 'awaiting_review', sandboxLive: true };
      store.db.prepare("UPDATE projection_rows SET value = ?, kind = 'awaiting_review', grp = 'review' WHERE name = 'runs:p' AND key = 'p-run-1'").run(JSON.stringify(forged));
      expect(listRuns(store, 'p', { group: 'review' }).runs).toEqual([]);
      expect(getRun(store, 'p', 'p-run-1')!.state).toBe('discarded');
      // A head moved back without the key would fold events twice (two tool calls counted four times): refused.
      store.append([1, 2].map(() => eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'tool.called', n: 1 })));
      expect(getRun(store, 'p', 'p-run-1')!.toolCalls).toBe(2);
      store.db.prepare("UPDATE projection_heads SET last_seq = 2 WHERE name = 'runs:p'").run();
      store.append(eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'tool.called', n: 1 }));
      expect(getRun(store, 'p', 'p-run-1')!.toolCalls).toBe(3);
    } finally {
      store.close();
    }
  });

  it('a snapshot from other logic or rules is rebuilt, one from the same is advanced', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      store.append({ type: 'system.halted', payload: sample('system.halted', { by: 'me', reason: 'r' }) });
      expect(syncSnapshot(store, controlsFold).halted).toBeDefined();
      // A snapshot saved under another version says "not halted": it must be ignored.
      store.saveProjection({ name: 'controls', lastSeq: store.headSeq(), rulesHash: 'controls/0', state: JSON.stringify({ tripped: {}, lastReset: {}, halted: undefined }) });
      expect(syncSnapshot(store, controlsFold).halted).toBeDefined();
      expect(syncSnapshot(store, factsFold('p'))).toEqual({ agents: [], handovers: {} });
    } finally {
      store.close();
    }
  });
});
