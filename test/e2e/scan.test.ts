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
  base: string;
}

/** Commit a run's work on its branch and merge it into `base` as `review merge` does (no events); the checkout ends on main. */
function mergeInGit(repo: string, task: string, base = 'main'): Made {
  const runId = ulid().toLowerCase();
  const branch = `agentctl/${task}/${runId}`;
  git(repo, 'checkout', '-q', '-b', branch, base);
  mkdirSync(join(repo, 'docs'), { recursive: true });
  writeFileSync(join(repo, 'docs', `${task}.md`), `# ${task}\n`);
  git(repo, 'add', '-A');
  git(repo, '-c', 'user.name=agentctl', 'commit', '-qm', `agentctl: ${task} (run ${runId})`);
  const head = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', base);
  git(repo, '-c', 'user.name=agentctl', 'merge', '-q', '--no-ff', '-m', `agentctl: merge ${task} (run ${runId})`, branch);
  const merge = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', 'main');
  return { runId, task, head, merge, base };
}

/** A human edit of a run's file on the checked-out branch, committed. */
function humanFix(repo: string, task: string): void {
  writeFileSync(join(repo, 'docs', `${task}.md`), `# ${task}, fixed by a human ${Math.random()}\n`);
  git(repo, 'commit', '-qam', `fix ${task} docs`);
}

/** Record merged runs in the log as a run and its merge record them (planned, sandbox, committed work, merged). */
function record(home: string, repo: string, runs: readonly Made[]): void {
  const store = openEventStore(join(home, 'agentctl.db'));
  try {
    for (const r of runs) {
      const subject = { runId: r.runId, task: r.task, agent: 'command', project: PROJECT, taskType: 'docs' };
      const base = git(repo, 'rev-parse', `${r.head}^`);
      store.append([
        { ...subject, type: 'run.planned', payload: { ...SAMPLES['run.planned'], title: r.task, taskFile: `tasks/${r.task}.md`, repoRoot: repo, baseBranch: r.base, baseSha: base } },
        { ...subject, type: 'sandbox.created', payload: { path: join(home, 'wt', r.task), branch: `agentctl/${r.task}/${r.runId}`, baseSha: base, gitDir: null } },
        { ...subject, type: 'sandbox.committed', payload: { headSha: r.head, files: [{ path: `docs/${r.task}.md`, insertions: 1, deletions: 0, bytes: 10, mode: '100644' }], insertions: 1, deletions: 0, bytes: 10 } },
        { ...subject, type: 'run.merged', payload: { mergeSha: r.merge, baseBranch: r.base, by: 'dev', host: 'laptop', auto: false, strategy: 'merge' } },
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
    expect(calls.filter((c) => c.startsWith('log ')), calls.join('\n')).toHaveLength(3);
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
    // Caught up by this scan (nothing to find yet), its window stays open for the next.
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    humanFix(repo, 'raced');
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

  it('a merge recorded before its branch holds it (merged elsewhere, pulled later) waits for it; a branch named constructor works; a rewritten branch with a new merge is read again from its oldest merge; a message of 70,000 revert lines is read', async () => {
    const { repo, home } = makeRepo({ '.agentrc.yaml': `project: ${PROJECT}\n` });
    // Merged on a branch the local main does not have yet.
    git(repo, 'branch', 'incoming', 'main');
    const elsewhere = mergeInGit(repo, 'elsewhere', 'incoming');
    elsewhere.base = 'main';
    record(home, repo, [elsewhere]);
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    // While it waits and nothing is new, a trust read looks at the branch's tip only.
    const counting = countingGit();
    expect((await agentctl(repo, home, ['promote', '--json'], { PATH: `${counting.bin}:${process.env.PATH}` })).code).toBe(0);
    expect(counting.calls()).toEqual([expect.stringMatching(/^for-each-ref /)]);
    git(repo, 'merge', '-q', '--ff-only', 'incoming');
    humanFix(repo, 'elsewhere');
    const p = await agentctl(repo, home, ['promote', '--json']);
    expect(p.code, p.stderr).toBe(0);
    expect((await events(repo, home, 'review.followup')).map((e) => e.runId)).toEqual([elsewhere.runId]);

    // A base branch whose name is an Object.prototype property.
    git(repo, 'branch', 'constructor', 'main');
    const odd = mergeInGit(repo, 'odd', 'constructor');
    record(home, repo, [odd]);
    git(repo, 'checkout', '-q', 'constructor');
    git(repo, 'revert', '--no-edit', '-m', '1', odd.merge);
    git(repo, 'checkout', '-q', 'main');
    const q = await agentctl(repo, home, ['promote', '--json']);
    expect(q.code, q.stderr).toBe(0);
    expect((await events(repo, home, 'regression.detected')).map((e) => e.runId)).toEqual([odd.runId]);

    // main rewritten (a human commit amended to fix a run's file) while another run merged.
    const a = mergeInGit(repo, 'aa');
    record(home, repo, [a]);
    writeFileSync(join(repo, 'notes.txt'), 'notes\n');
    git(repo, 'add', 'notes.txt');
    git(repo, 'commit', '-qm', 'notes');
    expect((await agentctl(repo, home, ['promote', '--json'])).code).toBe(0);
    writeFileSync(join(repo, 'docs', 'aa.md'), '# aa, fixed in the amended commit\n');
    git(repo, 'commit', '-q', '-a', '--amend', '-m', 'notes, and fix aa docs');
    const b = mergeInGit(repo, 'bb');
    record(home, repo, [b]);
    // A human commit whose message names 70,000 commits as reverted (git's arguments would be too long).
    const lines = Array.from({ length: 70_000 }, (_, i) => `This reverts commit ${i.toString(16).padStart(40, '0')}.`).join('\n');
    writeFileSync(join(repo, 'long.txt'), 'x\n');
    git(repo, 'add', 'long.txt');
    const message = join(tempDir(), 'message.txt');
    writeFileSync(message, `many reverts\n\n${lines}\n`);
    git(repo, 'commit', '-q', '-F', message);
    const r = await agentctl(repo, home, ['promote', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((await events(repo, home, 'review.followup')).map((e) => e.runId)).toEqual([elsewhere.runId, a.runId]);
  }, 120_000);
});
