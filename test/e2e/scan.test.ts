/**
 * The git scan at the scale of months of merges: 120 merged runs, made with git (agentctl's commit and
 * merge messages) and recorded through the store, as `review merge` records them. The scan reads each
 * base branch once, from where it last stopped: a revert of the first run ever merged is found, a trust
 * read with nothing new runs no history reads, and a merge recorded after the scan already read its
 * commit still has its follow-up window.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ulid } from 'ulid';
import { afterEach, describe, expect, it } from 'vitest';
import { openEventStore } from '../../src/evidence/store.js';
import { MAX_OPEN_WINDOWS } from '../../src/orchestrator/scan.js';
import { SAMPLES } from '../fixtures/eventSamples.js';
import { agentctl, cleanup, git, makeRepo, tempDir } from '../helpers.js';

afterEach(cleanup);

const PROJECT = 'scan-test';

interface Made {
  runId: string;
  task: string;
  head: string;
  merge: string;
}

/** Commit a run's work on its branch and merge it into main as `review merge` does (no events). */
function mergeInGit(repo: string, task: string): Made {
  const runId = ulid().toLowerCase();
  const branch = `agentctl/${task}/${runId}`;
  git(repo, 'checkout', '-q', '-b', branch, 'main');
  mkdirSync(join(repo, 'docs'), { recursive: true });
  writeFileSync(join(repo, 'docs', `${task}.md`), `# ${task}\n`);
  git(repo, 'add', '-A');
  git(repo, '-c', 'user.name=agentctl', 'commit', '-qm', `agentctl: ${task} (run ${runId})`);
  const head = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', 'main');
  git(repo, '-c', 'user.name=agentctl', 'merge', '-q', '--no-ff', '-m', `agentctl: merge ${task} (run ${runId})`, branch);
  return { runId, task, head, merge: git(repo, 'rev-parse', 'HEAD') };
}

/** Record merged runs in the log as a run and its merge record them (planned, sandbox, committed work, merged). */
function record(home: string, repo: string, runs: readonly Made[]): void {
  const store = openEventStore(join(home, 'agentctl.db'));
  try {
    for (const r of runs) {
      const subject = { runId: r.runId, task: r.task, agent: 'command', project: PROJECT, taskType: 'docs' };
      const base = git(repo, 'rev-parse', `${r.head}^`);
      store.append([
        { ...subject, type: 'run.planned', payload: { ...SAMPLES['run.planned'], title: r.task, taskFile: `tasks/${r.task}.md`, repoRoot: repo, baseSha: base } },
        { ...subject, type: 'sandbox.created', payload: { path: join(home, 'wt', r.task), branch: `agentctl/${r.task}/${r.runId}`, baseSha: base, gitDir: null } },
        { ...subject, type: 'sandbox.committed', payload: { headSha: r.head, files: [{ path: `docs/${r.task}.md`, insertions: 1, deletions: 0, bytes: 10, mode: '100644' }], insertions: 1, deletions: 0, bytes: 10 } },
        { ...subject, type: 'run.merged', payload: { mergeSha: r.merge, baseBranch: 'main', by: 'dev', host: 'laptop', auto: false, strategy: 'merge' } },
      ]);
    }
  } finally {
    store.close();
  }
}

/** A `git` first on PATH that logs each call's arguments (one line each) and runs the real one. */
function countingGit(): { bin: string; calls: () => string[]; reset: () => void } {
  const dir = tempDir();
  const logFile = join(dir, 'calls.log');
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(logFile)}\nexec ${JSON.stringify(realGit)} "$@"\n`);
  chmodSync(join(dir, 'git'), 0o755);
  writeFileSync(logFile, '');
  return {
    bin: dir,
    // The scan's reads of history; the calls every command makes (the repository's root, its first commit) are not counted.
    calls: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .map((l) => l.replace(/^(-c \S+ )*/, ''))
        .filter((l) => /^(log|diff-tree|merge-base|rev-list --no-walk|for-each-ref) /.test(l)),
    reset: () => writeFileSync(logFile, ''),
  };
}

const events = async (repo: string, home: string, type: string) =>
  (JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events as { type: string; runId: string; payload: Record<string, unknown> }[]).filter((e) => e.type === type);

describe('the git scan over months of merges', () => {
  it('finds a revert of the first of 120 merged runs, and a human fix of the 31st (of the second: its window closed 100 merges later); a trust read with nothing new reads no history; what is new is read alone', async () => {
    const { repo, home } = makeRepo({ '.agentrc.yaml': `project: ${PROJECT}\n` });
    const runs: Made[] = [];
    for (let i = 0; i < 120; i++) runs.push(mergeInGit(repo, `t${String(i).padStart(3, '0')}`));
    record(home, repo, runs);
    // A human reverts the first run's merge, then fixes the files of the second and the 31st. The second
    // run's follow-up window closed when 100 later runs merged (MAX_OPEN_WINDOWS); the 31st's is open.
    expect(MAX_OPEN_WINDOWS).toBe(100);
    git(repo, 'revert', '--no-edit', '-m', '1', runs[0]!.merge);
    writeFileSync(join(repo, 'docs', 't001.md'), '# t001, fixed by a human\n');
    writeFileSync(join(repo, 'docs', 't030.md'), '# t030, fixed by a human\n');
    git(repo, 'commit', '-qam', 'fix t001 and t030 docs');

    const counting = countingGit();
    const env = { PATH: `${counting.bin}:${process.env.PATH}` };
    const first = await agentctl(repo, home, ['promote', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect((await events(repo, home, 'regression.detected')).map((e) => [e.runId, e.payload.commit])).toEqual([[runs[0]!.runId, git(repo, 'rev-parse', 'HEAD~1')]]);
    expect((await events(repo, home, 'review.followup')).map((e) => [e.runId, e.payload.files])).toEqual([[runs[30]!.runId, ['docs/t030.md']]]);

    // Nothing new: one look at the branch's tip, no history read.
    counting.reset();
    expect((await agentctl(repo, home, ['promote', '--json'], env)).code).toBe(0);
    expect(counting.calls()).toEqual([expect.stringMatching(/^for-each-ref /)]);

    // One more merge and a human fix of its file: only the new commits are read.
    const late = mergeInGit(repo, 'late');
    record(home, repo, [late]);
    writeFileSync(join(repo, 'docs', 'late.md'), '# late, fixed\n');
    git(repo, 'commit', '-qam', 'fix late docs');
    counting.reset();
    expect((await agentctl(repo, home, ['promote', '--json'], env)).code).toBe(0);
    const calls = counting.calls();
    // The branch's tip, whether the saved tip is below it, the new commits and those of them that revert, the fix's files.
    expect(calls.filter((c) => c.startsWith('log ')), calls.join('\n')).toHaveLength(2);
    expect(calls.length, calls.join('\n')).toBe(5);
    expect((await events(repo, home, 'review.followup')).map((e) => e.runId)).toEqual([runs[30]!.runId, late.runId]);
  }, 120_000);

  it('a merge recorded after a scan already read its commit keeps its follow-up window; a saved state that does not verify is rebuilt without recording anything twice', async () => {
    const { repo, home } = makeRepo({ '.agentrc.yaml': `project: ${PROJECT}\n` });
    const early = mergeInGit(repo, 'early');
    record(home, repo, [early]);
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    // Merged in git, read by a scan, and only then recorded (as when a scan runs while `review merge` does).
    const raced = mergeInGit(repo, 'raced');
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    record(home, repo, [raced]);
    writeFileSync(join(repo, 'docs', 'raced.md'), '# raced, fixed\n');
    git(repo, 'commit', '-qam', 'fix raced docs');
    git(repo, 'revert', '--no-edit', '-m', '1', early.merge);
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    expect((await events(repo, home, 'review.followup')).map((e) => e.runId)).toEqual([raced.runId]);
    expect((await events(repo, home, 'regression.detected')).map((e) => e.runId)).toEqual([early.runId]);

    // The saved state edited in the database fails its authentication: read again from the oldest merge.
    const db = new Database(join(home, 'agentctl.db'));
    expect(db.prepare("UPDATE projections SET state = '{\"branches\":{}}' WHERE name LIKE 'git-scan:%'").run().changes).toBe(1);
    db.close();
    const before = (await agentctl(repo, home, ['log', '--json'])).stdout;
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    expect(JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events).toHaveLength(JSON.parse(before).events.length);
  }, 120_000);
});
