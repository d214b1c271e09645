import { describe, expect, it } from 'vitest';
import { controlCaps, decideRun, effectiveAutonomy, sensitiveMatches, taskAutonomy } from '../../src/orchestrator/decide.js';
import { projectRuns } from '../../src/evidence/projections/runs.js';
import type { StoredEvent } from '../../src/evidence/events.js';

const ok = { effective: 'auto' as const, earned: 'auto' as const, agentSucceeded: true, changedFiles: 2, gatePassed: true, scopeViolations: 0, sensitiveFiles: [] as string[] };

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
    expect(decideRun({ ...ok, sensitiveFiles: ['package-lock.json'] }).reasons).toEqual(['sensitive paths changed: package-lock.json']);
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
    expect(runs.get('r1')).toMatchObject({ state: 'awaiting_review', sandboxLive: true, headSha: 'h', gate: { passed: true }, bytes: undefined });
  });

  it('runs: exposes the changed bytes of the run and of each file for review', () => {
    const runs = projectRuns([
      e('run.planned', { requested: 'review', effective: 'review', reasons: [], baseBranch: 'main', baseSha: 'b', repoRoot: '/r', title: 'T' }, { runId: 'r2' }),
      e('sandbox.committed', { headSha: 'h', files: [{ path: 'big.bin', insertions: -1, deletions: -1, bytes: 60_000_000, mode: '100644' }], insertions: 0, deletions: 0, bytes: 60_000_000 }, { runId: 'r2' }),
    ]);
    expect(runs.get('r2')).toMatchObject({ bytes: 60_000_000, files: [{ path: 'big.bin', bytes: 60_000_000, mode: '100644' }] });
  });

  it('sensitive paths cap effective autonomy at review, from task paths', () => {
    expect(taskAutonomy({ autonomy: 'auto', paths: ['src/auth/**'] }, { level: 'auto', reason: 'x' }, ['**/auth/**'])).toMatchObject({ level: 'review', reasons: ['requested auto', expect.stringMatching(/sensitive paths \(src\/auth\/\*\*\)/)] });
    expect(taskAutonomy({ autonomy: 'auto', paths: ['docs/**'] }, { level: 'auto', reason: 'x' }, ['**/auth/**']).level).toBe('auto');
    expect(sensitiveMatches(['package-lock.json', 'src/a.ts', '.github/workflows/ci.yml'], ['package-lock.json', '.github/**'])).toEqual(['package-lock.json', '.github/workflows/ci.yml']);
  });
});

describe('controlCaps', () => {
  const trip = { breaker: 'scope' as const, agent: 'claude', project: 'p', reason: '3 violations', seq: 9, ts: '2026-01-01T00:00:00Z' };
  it('caps at hold while halted and for each tripped breaker of that agent in that project only', () => {
    expect(controlCaps({ tripped: {}, lastReset: {}, halted: undefined }, 'claude', 'p')).toEqual([]);
    const halted = controlCaps({ tripped: {}, lastReset: {}, halted: { seq: 1, ts: 't', by: 'ops', reason: 'incident' } }, 'claude', 'p');
    expect(halted).toEqual([{ level: 'hold', reason: 'agentctl is halted (by ops: incident)' }]);
    const c = { tripped: { 'scope:claude:p': trip }, lastReset: {}, halted: undefined };
    expect(controlCaps(c, 'claude', 'p').map((x) => x.level)).toEqual(['hold']);
    expect(controlCaps(c, 'claude', 'p')[0]!.reason).toContain('breakers reset scope --agent claude');
    expect(controlCaps(c, 'gemini', 'p')).toEqual([]);
    expect(controlCaps(c, 'claude', 'other')).toEqual([]);
    expect(taskAutonomy({ autonomy: 'auto', paths: [] }, { level: 'auto', reason: 'earned' }, [], controlCaps(c, 'claude', 'p')).level).toBe('hold');
  });
});
