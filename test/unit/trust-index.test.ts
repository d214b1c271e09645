/**
 * The indexed trust fold (a run found through its profile's index, the automatic demotion decided from
 * counts kept up to date) folds exactly what the fold before it folded (test/support/trustReference.ts:
 * a search of the kept runs per event, the evidence recomputed per decided run), over random histories
 * long enough to push runs out of a profile's kept window, with run ids planned again (in the same and
 * in another profile), level changes of every kind, and the state saved as JSON and read back midway.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/evidence/canonical.js';
import type { StoredEvent } from '../../src/evidence/events.js';
import { MAX_RUNS_KEPT, applyTrustEvent, emptyTrustState, type TrustState } from '../../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES, type TrustRules } from '../../src/evidence/projections/trust-rules.js';
import * as reference from '../support/trustReference.js';

/** Kinds of a history, weighted like real runs: mostly plans, merges and passing gates. */
const COMMON: [kind: string, weight: number][] = [
  ['run.planned', 40], ['run.merged', 15], ['run.discarded', 6], ['run.failed', 3], ['gate.passed', 8], ['gate.failed', 3], ['run.interrupted', 2],
  ['agent.exited', 2], ['agent.usage', 2], ['review.changes_requested', 2], ['review.followup', 2], ['audit.agreed', 1], ['audit.disagreed', 1],
];
/** Kinds that change a level (or fail closed): each history has them at its own rate, from never to often. */
const RARE = ['scope.violation', 'escalation.attempted', 'regression.detected', 'breaker.tripped', 'trust.promoted', 'trust.promoted', 'trust.demoted', 'unknown.type'];

/** One step: an event of kind `kind` about the run `back` plans before the newest (or a new run), in profile `profile`. */
const stepOf = (rarePerMille: number) =>
  fc.record({
    kind: fc.oneof(...COMMON.map(([k, w]) => ({ arbitrary: fc.constant(k), weight: w * 10 })), ...(rarePerMille ? [{ arbitrary: fc.constantFrom(...RARE), weight: rarePerMille }] : [])),
    back: fc.nat(40),
    profile: fc.nat(5),
    n: fc.nat(7),
  });
const step = stepOf(1);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** The events of a history (schema-free: the trust fold reads only the fields it needs). */
function eventsOf(steps: Step[]): StoredEvent[] {
  let planned = 0;
  const types = ['docs', 'docs', 'docs', 'docs', 'fix', 'docs'];
  return steps.map((s, i) => {
    const seq = i + 1;
    const taskType = types[s.profile]!;
    const base = { seq, key: `k${seq}`, ts: new Date(Date.UTC(2026, 0, 1) + seq * 60_000).toISOString(), version: 1, prevHash: '', hash: '', project: 'p', agent: 'claude', taskType };
    // A planned run is new, except one in eight, which plans an earlier id again.
    const runId = s.kind === 'run.planned' && s.n !== 0 ? `r${++planned}` : `r${Math.max(1, planned - s.back)}`;
    const to = (['hold', 'review', 'auto'] as const)[s.n % 3];
    switch (s.kind) {
      case 'run.planned':
        return { ...base, runId, type: s.kind, payload: { claim: s.n === 3, sandbox: s.n === 5 ? 'none' : 'os' } };
      case 'trust.promoted':
      case 'trust.demoted':
        return { ...base, type: s.kind, payload: { agent: 'claude', project: 'p', taskType, to, by: 'me', ...(s.n % 2 ? { evidence: { runs: s.n } } : {}) } };
      case 'breaker.tripped':
        return { ...base, type: s.kind, payload: { breaker: 'volume', agent: s.n % 2 ? 'claude' : 'gemini' } };
      case 'unknown.type':
        return { ...base, runId, type: s.kind, ...(s.n % 2 ? { taskType: undefined } : {}), payload: {} };
      case 'agent.usage':
        return { ...base, runId, type: s.kind, payload: { inputTokens: s.n, outputTokens: 1, costUsd: s.n / 10 } };
      case 'agent.exited':
        return { ...base, runId, type: s.kind, payload: { durationMs: 1000 * s.n } };
      case 'run.merged':
        return { ...base, runId, type: s.kind, payload: { auto: s.n % 2 === 0 } };
      default:
        return { ...base, runId, type: s.kind, payload: { path: 'src/x', tool: 'Edit', kind: 'revert', commit: 'c'.repeat(40) } };
    }
  });
}

/** Fold with the indexed fold, the state saved as JSON and read back after each event index in `cuts`. */
function indexed(events: StoredEvent[], rules: TrustRules, cuts: ReadonlySet<number>): TrustState {
  let state = emptyTrustState();
  events.forEach((e, i) => {
    if (cuts.has(i)) state = JSON.parse(JSON.stringify(state)) as TrustState;
    applyTrustEvent(state, e, rules);
  });
  return state;
}

const demoting: TrustRules = { ...DEFAULT_TRUST_RULES, demotion: { minRuns: 3, rejectionRate: 0.3, gateFailureRate: 0.4 } };

describe('the indexed trust fold', () => {
  it('keeps the same number of runs per profile as the fold it replaces', () => {
    expect(reference.limits.runsKept).toBe(MAX_RUNS_KEPT);
  });

  it.each([
    ['default rules', DEFAULT_TRUST_RULES],
    ['rules that demote often', demoting],
  ])('folds what the fold it replaces folds, past the kept window (property, %s)', (_name, rules) => {
    let pastWindow = 0;
    const histories = fc.constantFrom(0, 1, 5, 30).chain((rare) => fc.array(stepOf(rare), { minLength: 3 * MAX_RUNS_KEPT, maxLength: 5 * MAX_RUNS_KEPT }));
    fc.assert(
      fc.property(histories, fc.array(fc.nat(5 * MAX_RUNS_KEPT), { maxLength: 3 }), (steps, cuts) => {
        const events = eventsOf(steps);
        const want = reference.projectTrust(events, rules);
        if (Object.values(want.profiles).some((p) => p.runs[0]!.seq > events.find((e) => e.type === 'run.planned' && e.taskType === p.taskType)!.seq)) pastWindow++;
        expect(canonicalJson(indexed(events, rules, new Set(cuts)))).toBe(canonicalJson(want));
      }),
      // Shrinking histories this long takes minutes: the first counterexample is reported as it is.
      { numRuns: 16, endOnFailure: true },
    );
    // Most histories pushed runs out of a profile's window.
    expect(pastWindow).toBeGreaterThan(8);
  });

  it('runs pushed out of the window stop counting toward a demotion', () => {
    // A full window of merges, then 60% discards: the rejection rate over the kept runs passes 50% only
    // once enough of the early merges have left the window (never, if they were still counted).
    const steps: Step[] = [];
    for (let i = 0; i < MAX_RUNS_KEPT; i++) steps.push({ kind: 'run.planned', back: 0, profile: 0, n: 1 }, { kind: 'run.merged', back: 0, profile: 0, n: 1 });
    for (let i = 0; i < MAX_RUNS_KEPT; i++) steps.push({ kind: 'run.planned', back: 0, profile: 0, n: 1 }, { kind: i % 5 < 3 ? 'run.discarded' : 'run.merged', back: 0, profile: 0, n: 1 });
    const events = eventsOf(steps);
    const want = reference.projectTrust(events, DEFAULT_TRUST_RULES);
    expect(Object.values(want.profiles)[0]!.history.map((h) => h.to)).toEqual(['hold']);
    expect(canonicalJson(indexed(events, DEFAULT_TRUST_RULES, new Set()))).toBe(canonicalJson(want));
  });

  it('a history that leaves the window with runs planned twice and demotions on the way', () => {
    const steps: Step[] = [];
    for (let i = 0; i < 3 * MAX_RUNS_KEPT; i++) {
      steps.push({ kind: 'run.planned', back: 0, profile: 0, n: i % 8 === 0 ? 0 : 1 });
      steps.push({ kind: i % 3 ? 'run.merged' : 'run.discarded', back: i % 5, profile: 0, n: 2 });
      if (i % 97 === 0) steps.push({ kind: 'trust.promoted', back: 0, profile: 0, n: 2 });
    }
    const events = eventsOf(steps);
    const want = reference.projectTrust(events, demoting);
    const got = indexed(events, demoting, new Set([MAX_RUNS_KEPT * 2 + 1]));
    expect(Object.values(got.profiles)[0]!.history.length).toBeGreaterThan(10);
    expect(canonicalJson(got)).toBe(canonicalJson(want));
  });
});
