import { describe, expect, it } from 'vitest';
import { decideRun, effectiveAutonomy } from '../../src/orchestrator/decide.js';
import { projectRuns } from '../../src/evidence/projections/runs.js';
import { projectTrust, trustKey } from '../../src/evidence/projections/trust.js';
import type { StoredEvent } from '../../src/evidence/events.js';

const ok = { effective: 'auto' as const, earned: 'auto' as const, agentSucceeded: true, changedFiles: 2, gatePassed: true, scopeViolations: 0 };

describe('decideRun', () => {
  it('merges only when earned auto, effective auto, gated, changed and inside scope', () => {
    expect(decideRun(ok).outcome).toBe('merge');
    expect(decideRun({ ...ok, earned: 'review' }).outcome).toBe('review');
    expect(decideRun({ ...ok, effective: 'review' }).outcome).toBe('review');
    expect(decideRun({ ...ok, gatePassed: undefined }).outcome).toBe('review');
    expect(decideRun({ ...ok, gatePassed: false }).outcome).toBe('review');
    expect(decideRun({ ...ok, scopeViolations: 1 }).outcome).toBe('review');
    expect(decideRun({ ...ok, changedFiles: 0 }).outcome).toBe('review');
    expect(decideRun({ ...ok, agentSucceeded: false }).outcome).toBe('failed');
  });

  it('effective autonomy is the minimum of requested and earned, with the reason', () => {
    expect(effectiveAutonomy('auto', { level: 'review', reason: 'initial' })).toEqual({ level: 'review', reasons: ['requested auto', 'capped at review: earned level is review (initial)'] });
    expect(effectiveAutonomy('hold', { level: 'auto', reason: 'x' }).level).toBe('hold');
  });
});

let seq = 0;
const e = (type: string, payload: Record<string, unknown>, subject: Partial<StoredEvent> = {}): StoredEvent => ({
  seq: ++seq, key: `k${seq}`, ts: `2026-01-01T00:00:${String(seq).padStart(2, '0')}Z`, type, version: 1, payload, prevHash: '', hash: '',
  runId: 'r1', task: 't', agent: 'claude', project: 'p', taskType: 'docs', ...subject,
});

describe('projections', () => {
  it('runs: folds a run from planned to merged', () => {
    const runs = projectRuns([
      e('run.planned', { requested: 'review', effective: 'review', reasons: [], baseBranch: 'main', baseSha: 'b', repoRoot: '/r', title: 'T' }),
      e('sandbox.created', { path: '/w', branch: 'agentctl/t/r1', baseSha: 'b' }),
      e('agent.launched', {}),
      e('sandbox.committed', { headSha: 'h', files: [{ path: 'a', insertions: 1, deletions: 0 }] }),
      e('gate.passed', { command: 'true', exitCode: 0, output: '' }),
      e('run.decided', { outcome: 'review', reasons: [] }),
    ]);
    expect(runs.get('r1')).toMatchObject({ state: 'awaiting_review', sandboxLive: true, headSha: 'h', gate: { passed: true } });
  });

  it('trust: counts evidence per (agent, project, type), promotions raise the level, one type never affects another', () => {
    const events = [
      e('run.planned', {}, { runId: 'a' }),
      e('run.merged', {}, { runId: 'a' }),
      e('run.planned', {}, { runId: 'b' }),
      e('run.discarded', {}, { runId: 'b' }),
      e('run.planned', {}, { runId: 'c', taskType: 'deps' }),
      e('gate.failed', {}, { runId: 'c', taskType: 'deps' }),
      e('trust.promoted', { agent: 'claude', project: 'p', taskType: 'docs', to: 'auto', by: 'me' }, { runId: undefined }),
    ];
    const t = projectTrust(events, 'review');
    expect(t.get(trustKey('claude', 'p', 'docs'))).toMatchObject({ level: 'auto', evidence: { runs: 2, merged: 1, discarded: 1, mergeRate: 0.5 } });
    expect(t.get(trustKey('claude', 'p', 'deps'))).toMatchObject({ level: 'review', evidence: { runs: 1, gateFailures: 1, mergeRate: null } });
  });

  it('trust: an unknown event type fails closed to hold', () => {
    const t = projectTrust([e('run.planned', {}, { runId: 'a' }), e('future.thing', {}, { runId: 'a' })], 'review');
    expect(t.get(trustKey('claude', 'p', 'docs'))).toMatchObject({ level: 'hold' });
    expect(t.get(trustKey('claude', 'p', 'docs'))!.reason).toMatch(/fail-closed/);
  });
});
