/**
 * Finding 9 of issue 9: a change list larger than what a runner kept (1 MiB of git's output, tail only)
 * crashed the run or hid entries. With 100,000 files changed, plus an out-of-scope workflow and a link
 * leaving the worktree that sort before them (so a tail-only cut would drop exactly those), capture,
 * numstat and the raw diff must see every entry.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { createGit } from '../../src/exec/git.js';
import { composePolicy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { inspectChanges } from '../../src/exec/inspect.js';
import { captureWork, createSandbox, sandboxTarget } from '../../src/exec/worktree.js';
import { ROOT, git } from '../helpers.js';

/** The built-in profiles, as agentctl loads them. */
function builtinProfiles(): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const f of readdirSync(join(ROOT, 'profiles'))) out.set(f.replace('.yaml', ''), parseProfile(f.replace('.yaml', ''), f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
  return out;
}

const FILES = 100_000;
// 100,000 files are written, staged and hashed: on a memory filesystem when there is one (no timing is
// asserted; this only keeps the test from taking minutes on a busy disk).
const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'agentctl-scale-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

/** Write FILES files under `<wt>/gen` in one child process (the test worker stays responsive). */
const generate = (wt: string) =>
  promisify(execFile)(process.execPath, [
    '-e',
    `const fs = require('fs'), p = require('path');
     for (let d = 0; d < 100; d++) {
       const dir = p.join(process.argv[1], 'gen', 'dir-' + String(d).padStart(3, '0'));
       fs.mkdirSync(dir, { recursive: true });
       for (let f = 0; f < ${FILES} / 100; f++) fs.writeFileSync(p.join(dir, 'file-' + String(f).padStart(5, '0') + '.txt'), d + '/' + f + '\\n');
     }`,
    wt,
  ]);

it(`capture, numstat and the raw diff see all of ${FILES.toLocaleString('en')} changed files`, async () => {
  const repo = join(scratch, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, '-c', 'user.email=dev@example.com', '-c', 'user.name=Dev', 'commit', '-q', '--allow-empty', '-m', 'initial');
  const gitApi = createGit();
  const base = git(repo, 'rev-parse', 'HEAD');
  const sandbox = await createSandbox(gitApi, repo, join(scratch, 'lock'), join(scratch, 'wt'), 'agentctl/t/big', base, 'test');
  const wt = sandbox.path;
  await generate(wt);
  mkdirSync(join(wt, '.github', 'workflows'), { recursive: true });
  writeFileSync(join(wt, '.github', 'workflows', 'x.yml'), 'on: push\n');
  symlinkSync('../../outside', join(wt, '.a-link'));

  const target = sandboxTarget(sandbox);
  const { headSha } = await captureWork(gitApi, target, sandbox.branch, 'many', { name: 'agent', email: 'a@localhost' });
  expect(Number(git(repo, 'rev-list', '--count', `${base}..${headSha}`))).toBe(1);
  const files = await gitApi.numstat(target, base, headSha);
  expect(files).toHaveLength(FILES + 2);
  expect(files.filter((f) => f.path.startsWith('gen/'))).toHaveLength(FILES);
  expect(files.slice(0, 2)).toEqual([
    { path: '.a-link', insertions: 1, deletions: 0 },
    { path: '.github/workflows/x.yml', insertions: 1, deletions: 0 },
  ]);
  expect(files.every((f) => Number.isInteger(f.insertions) && Number.isInteger(f.deletions))).toBe(true);
  // The run's inspection sees the whole change too: the out-of-scope workflow and the link are found.
  const policy = composePolicy({ id: 't', file: 'tasks/t.md', profiles: ['implement'], paths: [], autonomy: 'review' }, builtinProfiles(), { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });
  const inspection = await inspectChanges(gitApi, { worktree: wt, repoRoot: repo, base, head: headSha, policy });
  expect(inspection.files).toHaveLength(FILES + 2);
  // implement writes none of gen/: every file is out of scope, and the two that sort first are there too.
  expect(inspection.violations).toHaveLength(FILES + 2);
  expect(inspection.violations.slice(0, 2).map((v) => v.path)).toEqual(['.a-link', '.github/workflows/x.yml']);
}, 240_000);
