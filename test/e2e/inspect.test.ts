/**
 * Change inspection against real git repositories: each attack is made in a run's worktree and
 * committed, as an agent (or agentctl's capture) would, and must come out as a violation (or bytes).
 */
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { composePolicy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { createGit, type Git } from '../../src/exec/git.js';
import { inspectChanges, type Inspection } from '../../src/exec/inspect.js';
import { cleanup, git, makeRepo, ROOT, tempDir, writeFiles } from '../helpers.js';

afterEach(cleanup);

function builtins(): Map<string, Profile> {
  const m = new Map<string, Profile>();
  for (const f of readdirSync(join(ROOT, 'profiles'))) m.set(f.replace('.yaml', ''), parseProfile(f.replace('.yaml', ''), f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
  return m;
}
const policy = composePolicy({ id: 't', file: 'tasks/t.md', profiles: ['implement'], paths: [], autonomy: 'review' }, builtins(), { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });
const SECRET = 'API_KEY=sk-live-0123456789abcdef\n';

/**
 * A repository whose main checkout holds an untracked, gitignored `.env`, a run worktree on it, the
 * agent's work done by `act` and committed in the worktree, then inspected.
 */
async function run(act: (wt: string, repo: string, home: string) => void, after: (wt: string) => void = () => {}): Promise<Inspection & { repo: string }> {
  const { repo } = makeRepo({ '.gitignore': '.env\n.env.*\n', 'src/a.ts': 'export const a = 1;\n', 'docs/v1.md': '# v1\n', 'scripts/deploy.sh': 'echo deploy\n', 'certs/dev.pem': 'DEV CERT\n' });
  writeFileSync(join(repo, '.env'), SECRET);
  writeFiles(repo, { 'config/.env.local': 'DB_PASSWORD=hunter2\n' });
  const base = git(repo, 'rev-parse', 'HEAD');
  const wt = join(tempDir(), 'wt');
  git(repo, 'worktree', 'add', '-q', '-b', 'agentctl/t/r1', wt, base);
  const home = tempDir();
  act(wt, repo, home);
  git(wt, 'add', '-A');
  git(wt, 'commit', '-qm', 'agent work', '--allow-empty');
  const head = git(wt, 'rev-parse', 'HEAD');
  after(wt);
  return { repo, ...(await inspectChanges(createGit(), { worktree: wt, repoRoot: repo, base, head, policy, home })) };
}
const byPath = (r: Inspection) => Object.fromEntries(r.violations.map((v) => [v.path, v.reason]));

describe('inspectChanges: links', () => {
  it('flags src/env -> ../.env, src/root -> .., src/g -> ../.git and an absolute link to the main checkout\'s .env', async () => {
    const r = await run((wt, repo) => {
      symlinkSync('../.env', join(wt, 'src/env'));
      symlinkSync('..', join(wt, 'src/root'));
      symlinkSync('../.git', join(wt, 'src/g'));
      symlinkSync(join(repo, '.env'), join(wt, 'src/abs'));
    });
    expect(byPath(r)).toEqual({
      'src/env': 'symbolic link onto denied path .env (deny rule ".env") (../.env)',
      'src/root': 'symbolic link onto the repository root (..)',
      'src/g': 'symbolic link onto git metadata (.git) (../.git)',
      'src/abs': `symbolic link pointing outside the repository (${r.repo}/.env: absolute target)`,
    });
    expect(r.violations.find((v) => v.path === 'src/g')?.protected).toBe(true);
  });

  it('flags a link to a folder that holds a denied file of the main checkout', async () => {
    const r = await run((wt) => symlinkSync('../config', join(wt, 'src/cfg')));
    expect(byPath(r)).toEqual({ 'src/cfg': 'symbolic link onto directory config, which holds the denied file config/.env.local (../config)' });
  });

  it('judges the committed link, not what the worktree shows after the capture', async () => {
    const r = await run(
      (wt) => symlinkSync('../.env', join(wt, 'src/env')),
      (wt) => {
        rmSync(join(wt, 'src/env'));
        symlinkSync('../docs/v1.md', join(wt, 'src/env')); // a process left behind tidies up
      },
    );
    expect(byPath(r)).toEqual({ 'src/env': 'symbolic link onto denied path .env (deny rule ".env") (../.env)' });
  });
});

describe('inspectChanges: denied content', () => {
  it('flags a hard link to the main checkout\'s untracked, gitignored .env', async () => {
    const r = await run((wt, repo) => linkSync(join(repo, '.env'), join(wt, 'src/hard.txt')));
    expect(byPath(r)['src/hard.txt']).toContain('hard link to the denied file .env');
  });

  it('flags a byte copy of it', async () => {
    const r = await run((wt, repo) => copyFileSync(join(repo, '.env'), join(wt, 'src/copy.txt')));
    expect(byPath(r)).toEqual({ 'src/copy.txt': 'copy of the bytes of the denied file .env' });
  });

  it('flags a byte copy of a denied file the base commit tracks', async () => {
    const r = await run((wt, repo) => {
      copyFileSync(join(wt, 'certs/dev.pem'), join(wt, 'src/cert.txt'));
      rmSync(join(repo, 'certs/dev.pem')); // only the base has it now
    });
    expect(byPath(r)).toEqual({ 'src/cert.txt': 'copy of the bytes of the denied file certs/dev.pem' });
  });

  it('flags a byte copy of a denied file in the home directory', async () => {
    const r = await run((wt, _repo, home) => {
      writeFiles(home, { '.ssh/id_ed25519': '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n' });
      copyFileSync(join(home, '.ssh/id_ed25519'), join(wt, 'docs/key.txt'));
    });
    expect(byPath(r)).toEqual({ 'docs/key.txt': 'copy of the bytes of the denied file ~/.ssh/id_ed25519' });
  });
});

describe('inspectChanges: modes and size', () => {
  it('flags a gitlink (embedded repository) inside the write scope', async () => {
    const r = await run((wt) => {
      git(wt, 'update-index', '--add', '--cacheinfo', `160000,${git(wt, 'rev-parse', 'HEAD')},src/vendor`);
      mkdirSync(join(wt, 'src/vendor')); // an empty folder keeps `git add -A` from dropping the gitlink
    });
    expect(r.files.find((f) => f.path === 'src/vendor')).toMatchObject({ mode: '160000', bytes: 0 });
    expect(byPath(r)).toEqual({ 'src/vendor': 'embedded repository (gitlink, mode 160000): its content is outside review' });
  });

  it('sees a mode-only chmod +x on a file outside the write scope', async () => {
    const r = await run((wt) => chmodSync(join(wt, 'scripts/deploy.sh'), 0o755));
    expect(r.files).toEqual([{ path: 'scripts/deploy.sh', insertions: 0, deletions: 0, bytes: 0, mode: '100755' }]);
    expect(byPath(r)['scripts/deploy.sh']).toContain('made executable (mode 100755) outside the write scope');
  });

  it('counts the bytes of a 60 MB binary file that changes 0 lines', async () => {
    const size = 60 * 1000 * 1000;
    const r = await run((wt) => writeFileSync(join(wt, 'src/blob.bin'), Buffer.alloc(size, 7).fill(0, 0, 16)));
    expect(r.files).toEqual([{ path: 'src/blob.bin', insertions: -1, deletions: -1, bytes: size, mode: '100644' }]);
    expect(r.totalBytes).toBe(size);
    expect(r.violations).toEqual([]);
  });
});

describe('inspectChanges: incomplete git output', () => {
  it('a path the raw listing lost is a violation, never a pass', async () => {
    const { repo } = makeRepo({ 'src/a.ts': 'a\n' });
    const base = git(repo, 'rev-parse', 'HEAD');
    writeFiles(repo, { '.github/workflows/ci.yml': 'on: push\n', 'src/b.ts': 'b\n' });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'work');
    // A runner that loses the first entry of the raw listing (the out-of-scope workflow), as a cut buffer would.
    const real = createGit();
    const cutting: Git = {
      ...real,
      out: async (where, args, options) => {
        const text = await real.out(where, args, options);
        return args.includes('--raw') ? text.split('\0').slice(2).join('\0') : text;
      },
    };
    const r = await inspectChanges(cutting, { worktree: repo, repoRoot: repo, base, head: git(repo, 'rev-parse', 'HEAD'), policy, home: tempDir() });
    expect(r.files.map((f) => f.path)).toEqual(['src/b.ts']);
    expect(byPath(r)).toEqual({ '.github/workflows/ci.yml': 'changed but missing from the raw change listing: not inspected' });
  });
});

describe('inspectChanges: repository configuration', () => {
  it('reads the commits through the main checkout, whatever the worktree\'s .git pointer says', async () => {
    const elsewhere = makeRepo().repo; // an agent points its worktree at another repository
    const r = await run(
      (wt) => symlinkSync('../.env', join(wt, 'src/env')),
      (wt) => writeFileSync(join(wt, '.git'), `gitdir: ${elsewhere}/.git\n`),
    );
    expect(byPath(r)).toEqual({ 'src/env': 'symbolic link onto denied path .env (deny rule ".env") (../.env)' });
  });

  it('runs no textconv program the repository configures for the changed files', async () => {
    const marker = join(tempDir(), 'textconv-ran');
    const r = await run((wt) => {
      git(wt, 'config', 'diff.evil.textconv', `touch ${marker}; cat`);
      writeFiles(wt, { '.gitattributes': '*.ts diff=evil\n', 'src/b.ts': 'b\n' });
    });
    expect(r.files.map((f) => f.path)).toEqual(['.gitattributes', 'src/b.ts']);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('inspectChanges: innocent work', () => {
  it('passes normal files and a link inside the scope, and counts their bytes', async () => {
    const r = await run((wt) => {
      writeFileSync(join(wt, 'src/a.ts'), 'export const a = 2;\nexport const b = 3;\n');
      writeFileSync(join(wt, 'docs/v2.md'), '# v2\n');
      symlinkSync('v2.md', join(wt, 'docs/latest'));
    });
    expect(r.violations).toEqual([]);
    expect(r.files).toEqual([
      { path: 'docs/latest', insertions: 1, deletions: 0, bytes: 5, mode: '120000' },
      { path: 'docs/v2.md', insertions: 1, deletions: 0, bytes: 5, mode: '100644' },
      { path: 'src/a.ts', insertions: 2, deletions: 1, bytes: 20, mode: '100644' },
    ]);
    expect(r.totalBytes).toBe(30);
  });
});
