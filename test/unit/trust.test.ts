import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/evidence/events.js';
import { applyTrustEvent, earnedLevel, emptyTrustState, profileEvidence, projectTrust, trustKey, type TrustState } from '../../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES, eligibility, recommend, type TrustRules } from '../../src/evidence/projections/trust-rules.js';

const rules: TrustRules = DEFAULT_TRUST_RULES;

/** Builds an event log with increasing sequence numbers. */
function log() {
  let seq = 0;
  let run = 0;
  const events: StoredEvent[] = [];
  const push = (type: string, payload: Record<string, unknown>, subject: Partial<StoredEvent>) => {
    seq++;
    events.push({ seq, key: `k${seq}`, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(), type, version: 1, payload, prevHash: '', hash: '', project: 'p', ...subject });
  };
  const api = {
    events,
    run(agent: string, type: string, outcome: 'merged' | 'discarded' | 'failed', extra: { claim?: boolean; gate?: 'passed' | 'failed'; violation?: boolean; unsandboxed?: boolean } = {}) {
      const runId = `r${++run}`;
      const s = { runId, agent, taskType: type, task: 't' };
      push('run.planned', { claim: extra.claim === true, sandbox: extra.unsandboxed === true ? 'none' : 'os' }, s);
      if (extra.violation) push('scope.violation', { path: 'tasks/x.md' }, s);
      if (extra.gate) push(`gate.${extra.gate}`, { command: 'npm test' }, s);
      push(outcome === 'merged' ? 'run.merged' : outcome === 'discarded' ? 'run.discarded' : 'run.failed', {}, s);
      return runId;
    },
    promote(agent: string, type: string, to: string) {
      push('trust.promoted', { agent, project: 'p', taskType: type, to, by: 'me' }, { agent, taskType: type });
    },
    raw(type: string, payload: Record<string, unknown>, subject: Partial<StoredEvent>) {
      push(type, payload, subject);
    },
  };
  return api;
}

const level = (s: TrustState, agent = 'claude', type = 'docs') => earnedLevel(s, rules, agent, 'p', type).level;
const evidence = (s: TrustState, agent = 'claude', type = 'docs') => profileEvidence(s.profiles[trustKey(agent, 'p', type)]!, rules, s.lastTs);

describe('trust rules at their thresholds', () => {
  it.each([
    [9, false],
    [10, true],
    [11, true],
  ])('review → auto with %i consecutive merged runs: eligible %s', (n, ok) => {
    const l = log();
    for (let i = 0; i < n; i++) l.run('claude', 'docs', 'merged');
    const s = projectTrust(l.events, rules);
    expect(evidence(s).consecutiveMerged).toBe(n);
    expect(eligibility('review', evidence(s), rules).eligible).toBe(ok);
  });

  it('a discard breaks the consecutive streak; approved-unmodified below 90% blocks auto', () => {
    const l = log();
    for (let i = 0; i < 10; i++) l.run('claude', 'docs', 'merged');
    l.run('claude', 'docs', 'discarded');
    expect(evidence(projectTrust(l.events, rules)).consecutiveMerged).toBe(0);
    const m = log();
    const ids = Array.from({ length: 10 }, () => m.run('claude', 'docs', 'merged'));
    m.raw('review.followup', { commit: 'c' }, { runId: ids[0], agent: 'claude', taskType: 'docs' });
    m.raw('review.followup', { commit: 'c' }, { runId: ids[1], agent: 'claude', taskType: 'docs' });
    const ev = evidence(projectTrust(m.events, rules));
    expect(ev.approvedUnmodifiedRate).toBe(0.8);
    expect(eligibility('review', ev, rules).missing).toEqual(['needs ≥ 90% approved unmodified, has 80%']);
    expect(recommend('review', ev, rules).kind).toBe('close');
  });

  it.each([
    [2, false],
    [3, true],
    [4, true],
  ])('hold → review with %i claimed merged runs: eligible %s', (n, ok) => {
    const l = log();
    for (let i = 0; i < n; i++) l.run('claude', 'docs', 'merged', { claim: true });
    l.run('claude', 'docs', 'merged'); // not claimed: does not count
    expect(eligibility('hold', evidence(projectTrust(l.events, rules)), rules).eligible).toBe(ok);
  });

  it.each([
    [4, 'review'],
    [5, 'hold'],
  ])('rejection rate above 50%% over %i decided runs since the last change → %s', (n, expected) => {
    const l = log();
    for (let i = 0; i < n; i++) l.run('claude', 'docs', i < 2 ? 'merged' : 'discarded');
    // n=4: 2/4 rejected = 50%, not above, and fewer than minRuns anyway; n=5: 3/5 = 60% over 5 runs.
    expect(level(projectTrust(l.events, rules))).toBe(expected);
  });

  it.each([
    ['rejection', 1, false],
    ['rejection', 4, false],
    ['rejection', 5, true],
    ['gate failure', 4, false],
    ['gate failure', 5, true],
  ] as const)('recommend() at review: %s rate 100%% over %i decided runs → demote %s (needs minRuns, like the automatic demotion)', (what, n, demote) => {
    const l = log();
    for (let i = 0; i < n; i++) l.run('claude', 'docs', what === 'rejection' ? 'discarded' : 'merged', what === 'rejection' ? {} : { gate: 'failed' });
    l.raw('run.planned', { sandbox: 'os' }, { runId: 'open', agent: 'claude', taskType: 'docs' }); // an open run is not a decided one
    const ev = evidence(projectTrust(l.events, rules));
    expect(ev.runs).toBe(n + 1);
    const r = recommend('review', ev, rules);
    expect(r.kind === 'demote').toBe(demote);
    if (demote) expect(r.reason).toBe(`${what} rate 100% over ${n} runs exceeds 50% in the window`);
  });
});

describe('trust projection', () => {
  it('runs without the OS sandbox earn nothing toward auto, but still count against the agent', () => {
    const l = log();
    for (let i = 0; i < 12; i++) l.run('claude', 'docs', 'merged', { unsandboxed: true });
    const s = projectTrust(l.events, rules);
    const ev = evidence(s);
    expect(ev.merged).toBe(0);
    expect(ev.consecutiveMerged).toBe(0);
    expect(ev.unsandboxed).toBe(12);
    expect(eligibility('review', ev, rules).eligible).toBe(false);
    l.run('claude', 'docs', 'discarded', { unsandboxed: true });
    expect(evidence(projectTrust(l.events, rules)).discarded).toBe(1);
    // The same history with the sandbox is eligible.
    const boxed = log();
    for (let i = 0; i < 12; i++) boxed.run('claude', 'docs', 'merged');
    expect(eligibility('review', evidence(projectTrust(boxed.events, rules)), rules).eligible).toBe(true);
  });

  it('promotions raise one profile; one task type never affects another', () => {
    const l = log();
    l.run('claude', 'docs', 'merged');
    l.promote('claude', 'docs', 'auto');
    l.run('claude', 'deps', 'merged', { violation: true });
    const s = projectTrust(l.events, rules);
    expect(level(s, 'claude', 'docs')).toBe('auto');
    expect(level(s, 'claude', 'deps')).toBe('hold');
    expect(level(s, 'gemini', 'docs')).toBe('review');
  });

  it.each([
    ['scope.violation', { path: 'tasks/x.md' }],
    ['escalation.attempted', { tool: 'Edit', path: '.claude/settings.json' }],
    ['regression.detected', { kind: 'revert', commit: 'abc' }],
  ])('a critical event (%s) drops an auto profile straight to hold, with history', (type, payload) => {
    const l = log();
    const id = l.run('claude', 'docs', 'merged');
    l.promote('claude', 'docs', 'auto');
    l.raw(type, payload, { runId: id, agent: 'claude', taskType: 'docs' });
    const s = projectTrust(l.events, rules);
    const p = s.profiles[trustKey('claude', 'p', 'docs')]!;
    expect(p.level).toBe('hold');
    expect(p.history.map((h) => [h.from, h.to, h.kind])).toEqual([
      ['review', 'auto', 'promotion'],
      ['auto', 'hold', 'automatic-demotion'],
    ]);
  });

  it('a breaker trip for an agent drops all its profiles to hold', () => {
    const l = log();
    l.run('claude', 'docs', 'merged');
    l.run('claude', 'deps', 'merged');
    l.run('gemini', 'docs', 'merged');
    l.raw('breaker.tripped', { breaker: 'cost', agent: 'claude' }, {});
    const s = projectTrust(l.events, rules);
    expect([level(s, 'claude', 'docs'), level(s, 'claude', 'deps'), level(s, 'gemini', 'docs')]).toEqual(['hold', 'hold', 'review']);
  });

  it('manual demotion keeps history; promotions above the current level only', () => {
    const l = log();
    l.promote('claude', 'docs', 'auto');
    l.raw('trust.demoted', { agent: 'claude', project: 'p', taskType: 'docs', to: 'hold', by: 'me', reason: 'bad week' }, { agent: 'claude', taskType: 'docs' });
    const s = projectTrust(l.events, rules);
    expect(s.profiles[trustKey('claude', 'p', 'docs')]!.history.map((h) => h.to)).toEqual(['auto', 'hold']);
  });

  it('an unknown event type or newer version fails closed to hold', () => {
    const l = log();
    l.run('claude', 'docs', 'merged');
    l.promote('claude', 'docs', 'auto');
    l.raw('future.event', {}, { agent: 'claude', taskType: 'docs', runId: 'x' });
    const s = projectTrust(l.events, rules);
    expect(level(s)).toBe('hold');
    expect(earnedLevel(s, rules, 'claude', 'p', 'docs').reason).toMatch(/cannot read/);
    const v = log();
    v.run('claude', 'docs', 'merged');
    v.events.push({ ...v.events[0]!, seq: 99, type: 'run.merged', version: 7 });
    expect(level(projectTrust(v.events, rules))).toBe('hold');
  });

  it('clock skew between events does not change the result (order is by sequence)', () => {
    const l = log();
    for (let i = 0; i < 6; i++) l.run('claude', 'docs', i === 2 ? 'discarded' : 'merged', { gate: 'passed' });
    l.promote('claude', 'docs', 'auto');
    const skewed = l.events.map((e, i) => ({ ...e, ts: new Date(Date.UTC(2026, 0, 1) + ((i * 7919) % 13) * 3_600_000).toISOString() }));
    const a = projectTrust(l.events, rules);
    const b = projectTrust(skewed, rules);
    const strip = (s: TrustState) => JSON.stringify(Object.values(s.profiles).map((p) => ({ level: p.level, ev: profileEvidence(p, rules, undefined) })));
    expect(strip(b)).toBe(strip(a));
  });

  it('incremental folding (state saved and reloaded between chunks) agrees with a rebuild (property)', () => {
    const op = fc.record({
      agent: fc.constantFrom('claude', 'gemini'),
      type: fc.constantFrom('docs', 'deps'),
      kind: fc.constantFrom('merged', 'discarded', 'failed', 'violation', 'promote-review', 'promote-auto', 'demote', 'regression', 'followup', 'gate-fail', 'unknown'),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(fc.nat(60), { maxLength: 5 }), (ops, cuts) => {
        const l = log();
        const runs: string[] = [];
        for (const o of ops) {
          const s = { agent: o.agent, taskType: o.type };
          switch (o.kind) {
            case 'merged':
            case 'discarded':
            case 'failed':
              runs.push(l.run(o.agent, o.type, o.kind));
              break;
            case 'gate-fail':
              runs.push(l.run(o.agent, o.type, 'discarded', { gate: 'failed' }));
              break;
            case 'violation':
              runs.push(l.run(o.agent, o.type, 'merged', { violation: true }));
              break;
            case 'promote-review':
              l.promote(o.agent, o.type, 'review');
              break;
            case 'promote-auto':
              l.promote(o.agent, o.type, 'auto');
              break;
            case 'demote':
              l.raw('trust.demoted', { agent: o.agent, project: 'p', taskType: o.type, to: 'hold', by: 'me', reason: 'x' }, s);
              break;
            case 'regression':
            case 'followup':
              if (runs.length) l.raw(o.kind === 'regression' ? 'regression.detected' : 'review.followup', { commit: 'c' }, { ...s, runId: runs[runs.length - 1] });
              break;
            case 'unknown':
              l.raw('mystery.event', {}, s);
              break;
          }
        }
        const full = projectTrust(l.events, rules);
        let state = emptyTrustState();
        const points = [...new Set(cuts.map((c) => Math.min(c, l.events.length)))].sort((a, b) => a - b);
        let from = 0;
        for (const to of [...points, l.events.length]) {
          for (const e of l.events.slice(from, to)) applyTrustEvent(state, e, rules);
          state = JSON.parse(JSON.stringify(state)) as TrustState; // persisted and reloaded
          from = to;
        }
        // Re-applying already-seen events is harmless.
        for (const e of l.events) applyTrustEvent(state, e, rules);
        expect(JSON.stringify(state)).toBe(JSON.stringify(JSON.parse(JSON.stringify(full))));
      }),
      { numRuns: 200 },
    );
  });
});
