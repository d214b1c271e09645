/**
 * The auto-mode scenario: a batch of 31 tasks on a real temp repository, run with --concurrency 4 in
 * phases, trips each circuit breaker once on purpose, halts and resumes once, samples audits, and
 * then the event log is checked: every auto merge was earned, gated and inside scope at the time.
 * The figures are printed and written to $AGENTCTL_BATCH_REPORT (default: a temp file).
 */
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/evidence/events.js';
import { projectTrust, trustKey } from '../../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES } from '../../src/evidence/projections/trust-rules.js';
import { BIN, SCRIPTED_AGENT, SCRIPTED_CLAUDE, agentctl, cleanup, git, makeRepo, script, taskFile, tempDir } from '../helpers.js';

afterEach(cleanup);

describe('auto mode, 31 tasks with --concurrency 4', () => {
  it('merges only where earned and gated, trips each breaker once, halts once, samples audits', async () => {
    const tasks: Record<string, string> = {};
    const add = (id: string, front: Record<string, unknown>, body: string) => (tasks[`tasks/${id}.md`] = taskFile({ type: 'docs', gate: 'true', ...front }, body));
    for (let i = 1; i <= 12; i++) add(`a-ok-${i}`, { agent: 'command', autonomy: 'auto', tags: ['a'] }, `ok-a${i}`);
    for (let i = 1; i <= 2; i++) add(`a-refactor-${i}`, { agent: 'command', autonomy: 'auto', type: 'refactor', tags: ['a'] }, `ok-r${i}`);
    for (let i = 1; i <= 2; i++) add(`a-claude-${i}`, { agent: 'claude', autonomy: 'auto', tags: ['a'] }, script({ write: `docs/claude-a${i}.md`, content: 'x\n' }));
    for (let i = 1; i <= 3; i++) add(`b-gatefail-${i}`, { agent: 'command', autonomy: 'auto', gate: 'false', tags: ['b'] }, `ok-b${i}`);
    add('c-scope', { agent: 'command', autonomy: 'auto', tags: ['c'] }, 'scope-c');
    for (let i = 1; i <= 3; i++) add(`d-claude-${i}`, { agent: 'claude', autonomy: 'review', tags: ['d'] }, script({ write: `docs/claude-d${i}.md`, content: 'x\n' }));
    for (let i = 1; i <= 5; i++) add(`e-volume-${i}`, { agent: 'command', autonomy: 'auto', tags: ['e'] }, `ok-e${i}`);
    for (let i = 1; i <= 3; i++) add(`f-slow-${i}`, { agent: 'command', autonomy: 'auto', tags: ['f'] }, `slow-f${i}`);
    const { repo, home } = makeRepo({
      ...tasks,
      'agent.sh': SCRIPTED_AGENT,
      '.agentrc.yaml': [
        'agents:',
        '  command:',
        '    bin: ./agent.sh',
        '  claude:',
        `    bin: ${SCRIPTED_CLAUDE}`,
        'audit:',
        '  sampleRate: 0.6',
        'breakers:',
        '  errors:',
        '    maxFailures: 2',
        '  cost:',
        '    usdPerDay: 0.05',
        '  volume:',
        '    runsPerHour: 22',
        '',
      ].join('\n'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    const cli = (...args: string[]) => agentctl(repo, home, args);
    const batch = (tag: string) => cli('run', '--tag', tag, '--concurrency', '4', '--json');
    const reauto = async (breaker: string) => {
      expect((await cli('breakers', 'reset', breaker, '--agent', 'command', '--note', 'planned trip')).code).toBe(0);
      await cli('promote', 'command', '--type', 'docs', '--to', 'review', '--force', '--note', 'after planned trip');
      await cli('promote', 'command', '--type', 'docs', '--to', 'auto', '--force', '--note', 'after planned trip');
    };

    await cli('promote', 'command', '--type', 'docs', '--to', 'auto', '--force', '--note', 'scenario start');
    await batch('a'); // 12 earned auto merges; refactor and claude are not earned → review
    await batch('b'); // gate failures → errors breaker
    await reauto('errors');
    await batch('c'); // scope violation → scope breaker
    await reauto('scope');
    await batch('d'); // claude spends past its daily budget → cost breaker
    await batch('e'); // the 23rd command run in the hour → volume breaker
    await reauto('volume');
    // Halt during three parallel slow runs, from another process.
    const slow = spawn(process.execPath, [BIN, 'run', '--tag', 'f', '--concurrency', '4', '--json'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: 'ignore' });
    const closed = new Promise((r) => slow.on('close', r));
    for (let i = 0; i < 150; i++) {
      const launched = JSON.parse((await cli('log', '--json')).stdout).events.filter((e: StoredEvent) => e.type === 'agent.launched' && e.task?.startsWith('f-')).length;
      if (launched === 3) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect((await agentctl(tempDir(), home, ['halt', '--reason', 'scenario'])).code).toBe(0);
    await closed;
    expect((await agentctl(tempDir(), home, ['resume'])).code).toBe(0);

    const events: StoredEvent[] = JSON.parse((await cli('log', '--json')).stdout).events;
    // The project's log holds the global events too (the halt and resume); --limit keeps the newest.
    expect(events.filter((e) => e.type === 'system.halted' || e.type === 'system.resumed')).toHaveLength(2);
    expect(JSON.parse((await cli('log', '--limit', '7', '--json')).stdout).events).toEqual(events.slice(-7));
    const count = (type: string, pred: (e: StoredEvent) => boolean = () => true) => events.filter((e) => e.type === type && pred(e)).length;
    const autoMerges = events.filter((e) => e.type === 'run.merged' && e.payload.auto === true);
    const forbiddenDetail: string[] = [];
    const forbidden = autoMerges.filter((m) => {
      // The rules are judged when the merge was decided (its final check runs under the repository lock
      // just before landing; a trip recorded after that check cannot undo a merge already made).
      const decidedAt = events.find((e) => e.runId === m.runId && e.type === 'run.decided')!.seq;
      const before = events.filter((e) => e.seq < decidedAt);
      const level = projectTrust(before, DEFAULT_TRUST_RULES).profiles[trustKey(m.agent!, m.project!, m.taskType!)]?.level;
      const gated = before.some((e) => e.runId === m.runId && e.type === 'gate.passed');
      const scoped = !before.some((e) => e.runId === m.runId && e.type === 'scope.violation');
      const bad = level !== 'auto' || !gated || !scoped;
      if (bad) forbiddenDetail.push(`${m.task} ${m.runId}: level ${level}, gated ${gated}, scoped ${scoped}`);
      return bad;
    });
    const tripped = Object.fromEntries(['errors', 'scope', 'cost', 'volume'].map((b) => [b, count('breaker.tripped', (e) => e.payload.breaker === b)]));
    const figures = {
      tasks: Object.keys(tasks).length,
      runsPlanned: count('run.planned'),
      autoMerges: autoMerges.length,
      humanMerges: count('run.merged', (e) => e.payload.auto !== true),
      awaitingReview: count('run.decided', (e) => e.payload.outcome === 'review'),
      refusedOrInterrupted: count('run.interrupted'),
      breakersTripped: tripped,
      halts: count('system.halted'),
      resumes: count('system.resumed'),
      auditsSampled: count('audit.sampled'),
      forbiddenMerges: forbidden.length,
      chainOk: (await agentctl(tempDir(), home, ['audit', 'verify'])).code === 0,
    };
    const out = process.env.AGENTCTL_BATCH_REPORT ?? join(tempDir(), 'batch-report.json');
    writeFileSync(out, JSON.stringify(figures, null, 2));
    console.log(`auto-mode scenario figures (${out}):\n${JSON.stringify(figures, null, 2)}`);

    expect(figures.autoMerges).toBeGreaterThanOrEqual(12);
    expect(forbiddenDetail).toEqual([]);
    expect(tripped).toEqual({ errors: 1, scope: 1, cost: 1, volume: 1 });
    expect(figures.halts).toBe(1);
    expect(figures.resumes).toBe(1);
    expect(figures.auditsSampled).toBeGreaterThan(0);
    expect(figures.chainOk).toBe(true);
    // Nothing a rule forbids merged: refactor (not earned) and the scope violator stayed unmerged.
    const mergedTasks = new Set(events.filter((e) => e.type === 'run.merged').map((e) => e.task));
    expect([...mergedTasks].filter((t) => t!.startsWith('a-refactor') || t === 'c-scope' || t!.startsWith('b-gatefail'))).toEqual([]);
  }, 300_000);
});
