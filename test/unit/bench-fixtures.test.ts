/**
 * The bench's generated history is shaped like real runs: agentctl's own projections fold it into the
 * states a year of real use leaves (merged or discarded, no worktree left, no demotion), its git
 * history holds the merged runs' commits, and the measuring helpers parse what bash prints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/evidence/events.js';
import { projectRuns, isReviewable } from '../../src/evidence/projections/runs.js';
import { projectTrust } from '../../src/evidence/projections/trust.js';
import { openEventStore } from '../../src/evidence/store.js';
import { parseConfig } from '../../src/definition/config.js';
import { AGENTS, EVENTS_PER_RUN, TASK_TYPES, isMerged, promotions, runEvents, runIdentity } from '../bench/events.js';
import { git, historyRepo } from '../bench/fixtures.js';
import { median, parseTimes } from '../bench/measure.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('bench history generator', () => {
  const end = Date.parse('2026-06-01T00:00:00Z');

  it('writes exactly EVENTS_PER_RUN known events per run, one run id, in time order', () => {
    for (let i = 0; i < 40; i++) {
      const events = runEvents(i, 40, end, '/repo');
      expect(events).toHaveLength(EVENTS_PER_RUN);
      expect(new Set(events.map((e) => e.runId)).size).toBe(1);
      for (const e of events) expect(Object.keys(EVENT_TYPES)).toContain(e.type);
      const ts = events.map((e) => Date.parse(e.ts!));
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
      expect(events[0]!.type).toBe('run.planned');
    }
  });

  it('stored through the real store and folded by the real projections: 70% merged, 30% discarded, nothing left to review, no profile demoted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentctl-bench-test-'));
    dirs.push(dir);
    const store = openEventStore(join(dir, 'agentctl.db'));
    const runs = 600;
    store.append(promotions(end - 400 * 86_400_000));
    for (let i = 0; i < runs; i += 50) store.append(Array.from({ length: 50 }, (_, k) => runEvents(i + k, runs, end, '/repo')).flat());
    const events = store.query();
    store.close();
    expect(events).toHaveLength(runs * EVENTS_PER_RUN + AGENTS.length * TASK_TYPES.length);

    const views = [...projectRuns(events).values()];
    expect(views).toHaveLength(runs);
    expect(views.filter((v) => v.state === 'merged')).toHaveLength(runs * 0.7);
    expect(views.filter((v) => v.state === 'discarded')).toHaveLength(runs * 0.3);
    expect(views.filter(isReviewable)).toHaveLength(0);
    expect(views.every((v) => !v.sandboxLive && v.osSandbox === 'os')).toBe(true);

    const trust = projectTrust(events, parseConfig('/repo', undefined, 'bench').trust);
    const profiles = Object.values(trust.profiles);
    expect(profiles).toHaveLength(AGENTS.length * TASK_TYPES.length);
    expect(profiles.map((p) => p.level)).toEqual(profiles.map(() => 'auto'));
  });
});

describe('bench git history', () => {
  it("holds each merged run's work commit and its merge into main, with agentctl's messages, and the run's events name them", () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentctl-bench-test-'));
    dirs.push(dir);
    const end = Date.parse('2026-06-01T00:00:00Z');
    const commits = historyRepo(join(dir, 'repo.git'), 40, end);
    const merged = Array.from({ length: 40 }, (_, i) => i).filter(isMerged);
    expect([...commits.keys()]).toEqual(merged);
    expect(merged).toHaveLength(28);
    const repo = join(dir, 'repo.git');
    // main: the initial commit, then a merge per merged run (first parents), each merging its work commit.
    expect(git(repo, 'rev-list', '--first-parent', '--count', 'main')).toBe(String(1 + merged.length));
    expect(git(repo, 'rev-parse', 'main')).toBe(commits.get(merged.at(-1)!)!.merge);
    for (const i of merged) {
      const c = commits.get(i)!;
      const { runId, task } = runIdentity(i, 40, end);
      expect(git(repo, 'log', '-1', '--format=%P%n%s', c.merge).split('\n')).toEqual([`${c.base} ${c.head}`, `agentctl: merge ${task} (run ${runId})`]);
      expect(git(repo, 'log', '-1', '--format=%P%n%s', c.head).split('\n')).toEqual([c.base, `agentctl: ${task} (run ${runId})`]);
      const events = runEvents(i, 40, end, '/repo', c);
      expect(events.find((e) => e.type === 'run.merged')!.payload).toMatchObject({ mergeSha: c.merge });
      expect(events.find((e) => e.type === 'sandbox.committed')!.payload).toMatchObject({ headSha: c.head });
      expect(events.find((e) => e.type === 'run.planned')!.payload).toMatchObject({ baseSha: c.base });
      // The rest of the run is the same as without the commits.
      expect(runEvents(i, 40, end, '/repo').map((e) => e.ts)).toEqual(events.map((e) => e.ts));
    }
    expect(git(repo, 'ls-tree', '--name-only', 'main')).toContain('.agentrc.yaml');
  });
});

describe('bench measuring helpers', () => {
  it('reads the children line of bash `times`, and the shell\'s own CPU', () => {
    expect(parseTimes('0m0.002s 0m0.001s\n0m1.234s 1m0.100s\n')).toEqual({ userMs: 1234, sysMs: 60_100, selfMs: 3 });
    expect(parseTimes('0m0,000s 0m0,000s\n0m0,050s 0m0,010s')).toEqual({ userMs: 50, sysMs: 10, selfMs: 0 });
    expect(() => parseTimes('nonsense')).toThrow(/cannot parse/);
  });

  it('takes the median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });
});
