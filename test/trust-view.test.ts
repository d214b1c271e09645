/**
 * The trust read view (projections/trust.ts TrustView, trustStore.ts currentTrust): every reader gets
 * from the view what it would get from the whole fold state, and a command reads only the small view
 * while no event of its project came after it (real SQLite files).
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/evidence/canonical.js';
import { earnedLevel, profileEvidence, projectTrust, trustView, viewRunsOf } from '../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES, windowOf, type TrustRules } from '../src/evidence/projections/trust-rules.js';
import { paging } from '../src/evidence/projectionSync.js';
import { openEventStore, type EventStore } from '../src/evidence/store.js';
import { currentTrust } from '../src/evidence/trustStore.js';
import { cleanup, tempDir } from './helpers.js';
import { eventOf, step } from './support/projectionHistory.js';

const defaultPage = paging.events;
afterEach(() => {
  paging.events = defaultPage;
  cleanup();
});

/** Steps of one agent in one project, half of them planning one of 1,000 runs, so a profile holds more runs than a view keeps. */
const longStep = fc.tuple(step, fc.nat(999), fc.boolean()).map(([s, run, plan]) => ({ ...s, run, project: 'p' as const, agent: 'claude' as const, kind: plan ? ('run.planned' as const) : s.kind }));
const RULES: TrustRules[] = [
  DEFAULT_TRUST_RULES,
  { ...DEFAULT_TRUST_RULES, window: { runs: 100 } },
  { ...DEFAULT_TRUST_RULES, window: { runs: 5, days: 1 } },
];

/** A store whose snapshot reads are recorded by name. */
function recording(store: EventStore): { store: EventStore; loads: string[] } {
  const loads: string[] = [];
  return { store: { ...store, loadProjection: (name: string) => (loads.push(name), store.loadProjection(name)) }, loads };
}

describe('trust read view', () => {
  it('gives each reader (level, evidence over the window, merges in the window) what the whole state gives (property)', () => {
    let cut = 0;
    fc.assert(
      fc.property(fc.array(longStep, { minLength: 100, maxLength: 1500 }), fc.constantFrom(...RULES), (steps, rules) => {
        const store = openEventStore(join(tempDir(), 'agentctl.db'));
        const events = store.append(steps.map(eventOf));
        store.close();
        const full = projectTrust(events, rules);
        const view = trustView(full, rules);
        expect(view).not.toHaveProperty('runKeys');
        expect(view.lastTs).toBe(full.lastTs);
        for (const [key, p] of Object.entries(full.profiles)) {
          const v = view.profiles[key]!;
          expect(v.runs).toHaveLength(Math.min(p.runs.length, viewRunsOf(rules)));
          if (v.runs.length < p.runs.length) cut++;
          expect(earnedLevel(view, rules, p.agent, p.project, p.taskType)).toEqual(earnedLevel(full, rules, p.agent, p.project, p.taskType));
          expect(profileEvidence(v, rules, view.lastTs)).toEqual(profileEvidence(p, rules, full.lastTs));
          expect(windowOf(v.runs, rules, view.lastTs)).toEqual(windowOf(p.runs, rules, full.lastTs));
          expect(v.history).toEqual(p.history);
        }
      }),
      { numRuns: 25, seed: 11, endOnFailure: true },
    );
    // The property is only worth something if views were actually cut.
    expect(cut).toBeGreaterThan(0);
  });

  it('is read alone while no event of its project came after it; an event of the project brings the state up to date', () => {
    const file = join(tempDir(), 'agentctl.db');
    const steps = fc.sample(longStep, { numRuns: 900, seed: 5 });
    const base = openEventStore(file);
    try {
      base.append(steps.map(eventOf));
      const first = currentTrust(base, 'p', DEFAULT_TRUST_RULES);
      expect(canonicalJson(first)).toBe(canonicalJson(trustView(projectTrust(base.query({ project: 'p' }), DEFAULT_TRUST_RULES), DEFAULT_TRUST_RULES)));
      // The fold's state is far larger than what readers see.
      expect(base.loadProjection('trust:p')!.state.length).toBeGreaterThan(2 * base.loadProjection('trust-view:p')!.state.length);

      const { store, loads } = recording(base);
      expect(canonicalJson(currentTrust(store, 'p', DEFAULT_TRUST_RULES))).toBe(canonicalJson(first));
      expect(loads).toEqual(['trust-view:p']);

      // Another project's event: still the view alone.
      loads.length = 0;
      base.append(eventOf({ ...steps[0]!, project: 'q', kind: 'run.planned' }));
      expect(canonicalJson(currentTrust(store, 'p', DEFAULT_TRUST_RULES))).toBe(canonicalJson(first));
      expect(loads).toEqual(['trust-view:p']);

      // An event of the project (a promotion changes a level): the state is read, folded, and the view follows.
      loads.length = 0;
      base.append(eventOf({ run: 0, project: 'p', agent: 'claude', taskType: 'docs', kind: 'trust.promoted', n: 1 }));
      const after = currentTrust(store, 'p', DEFAULT_TRUST_RULES);
      expect(loads).toContain('trust:p');
      expect(canonicalJson(after)).toBe(canonicalJson(trustView(projectTrust(base.query({ project: 'p' }), DEFAULT_TRUST_RULES), DEFAULT_TRUST_RULES)));
      expect(after.profiles['claude\u0000p\u0000docs']!.level).toBe('auto');
      expect(base.loadProjection('trust-view:p')!.lastSeq).toBe(base.headSeq());
    } finally {
      base.close();
    }
  });

  it('moves past a long stretch of other projects’ events, so the next read does not skip them again', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      store.append(fc.sample(longStep, { numRuns: 50, seed: 3 }).map(eventOf));
      currentTrust(store, 'p', DEFAULT_TRUST_RULES);
      const at = store.loadProjection('trust-view:p')!.lastSeq;
      paging.events = 20;
      store.append(fc.sample(longStep, { numRuns: 30, seed: 4 }).map((s) => eventOf({ ...s, project: 'q' })));
      currentTrust(store, 'p', DEFAULT_TRUST_RULES);
      expect(store.loadProjection('trust-view:p')!.lastSeq).toBe(at + 30);
    } finally {
      store.close();
    }
  });

  it('a view edited in the database is not believed: the answer comes from the state again', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file) as EventStore & { db: { prepare(sql: string): { run(...a: unknown[]): unknown } } };
    try {
      store.append(fc.sample(longStep, { numRuns: 300, seed: 9 }).map(eventOf));
      const honest = canonicalJson(currentTrust(store, 'p', DEFAULT_TRUST_RULES));
      const forged = JSON.parse(store.loadProjection('trust-view:p')!.state) as { profiles: Record<string, { level: string }> };
      for (const p of Object.values(forged.profiles)) p.level = 'auto';
      store.db.prepare("UPDATE projections SET state = ? WHERE name = 'trust-view:p'").run(JSON.stringify(forged));
      expect(canonicalJson(currentTrust(store, 'p', DEFAULT_TRUST_RULES))).toBe(honest);
    } finally {
      store.close();
    }
  });
});
