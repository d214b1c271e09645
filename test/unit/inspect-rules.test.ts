/** The pure change-inspection rules: what a changed file really is, judged against the policy. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedBytes, inspectViolations, linkTargetProblem, resolveLink, type ChangedEntry, type DeniedFile } from '../../src/authz/inspect-rules.js';
import { composePolicy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { parseLsTree, parseNumstat, parseRawDiff } from '../../src/exec/inspect.js';
import { ROOT } from '../helpers.js';

function builtins(): Map<string, Profile> {
  const m = new Map<string, Profile>();
  for (const f of readdirSync(join(ROOT, 'profiles'))) m.set(f.replace('.yaml', ''), parseProfile(f.replace('.yaml', ''), f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
  return m;
}
const policy = composePolicy({ id: 't', file: 'tasks/t.md', profiles: ['implement'], paths: [], autonomy: 'review' }, builtins(), { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });

const Z = '0'.repeat(40);
const id = (n: number) => n.toString(16).padStart(40, 'a');
/** An added regular file in scope, overridable. */
const entry = (over: Partial<ChangedEntry>): ChangedEntry => ({ path: 'src/a.ts', oldMode: '000000', newMode: '100644', oldId: Z, newId: id(1), insertions: 1, deletions: 0, oldSize: 0, newSize: 10, ...over });
const link = (path: string, target: string): ChangedEntry => entry({ path, newMode: '120000', linkTarget: target, newSize: target.length });
const reasons = (changes: ChangedEntry[], links = new Map<string, string>(), denied: DeniedFile[] = []) =>
  inspectViolations(policy, changes, new Map([...changes.filter((c) => c.linkTarget !== undefined).map((c) => [c.path, c.linkTarget!] as const), ...links]), denied).map((v) => `${v.path}: ${v.reason}`);

describe('resolveLink', () => {
  it('follows .. and links in order, as the kernel does', () => {
    const none = new Map<string, string>();
    expect(resolveLink('docs/latest', 'v2.md', none)).toEqual({ kind: 'inside', path: 'docs/v2.md' });
    expect(resolveLink('src/env', '../.env', none)).toEqual({ kind: 'inside', path: '.env' });
    expect(resolveLink('src/root', '..', none)).toEqual({ kind: 'inside', path: '' });
    expect(resolveLink('src/up', '../..', none)).toMatchObject({ kind: 'outside' });
    expect(resolveLink('src/abs', '/repo/.env', none)).toMatchObject({ kind: 'outside', why: 'absolute target' });
    // `lib` is a link to `deep/er`: `lib/../../x` climbs from deep/er, not from the root.
    expect(resolveLink('a', 'lib/../../x', new Map([['lib', 'deep/er']]))).toEqual({ kind: 'inside', path: 'x' });
    // Lexically `vendor/lib/../../home/.ssh` stays inside; through the absolute link it does not.
    expect(resolveLink('src/k', '../vendor/lib/../../home/.ssh', new Map([['vendor/lib', '/usr/lib']]))).toMatchObject({ kind: 'outside' });
    expect(resolveLink('a', 'b', new Map([['a', 'b'], ['b', 'a']]))).toEqual({ kind: 'loop' });
  });
});

describe('linkTargetProblem', () => {
  it('names the root, .git, denied and protected paths and their folders; leaves ordinary paths alone', () => {
    expect(linkTargetProblem(policy, '', [])?.reason).toBe('the repository root');
    expect(linkTargetProblem(policy, '.git/hooks', [])?.reason).toMatch(/git metadata/);
    expect(linkTargetProblem(policy, 'config/.env', [])?.reason).toMatch(/denied path config\/\.env/);
    expect(linkTargetProblem(policy, '.agentrc.yaml', [])).toMatchObject({ protected: true });
    expect(linkTargetProblem(policy, 'config', ['config/.env'])?.reason).toMatch(/holds the denied file config\/\.env/);
    expect(linkTargetProblem(policy, '.github', [])?.reason).toMatch(/denied path \.github/);
    expect(linkTargetProblem(policy, '.agentctl', [])).toEqual({ reason: 'directory .agentctl, which holds protected paths (.agentctl/PROTOCOL.md)', protected: true });
    expect(linkTargetProblem(policy, '.claude', [])).toMatchObject({ protected: true });
    expect(linkTargetProblem(policy, 'config', [])).toBeUndefined();
    expect(linkTargetProblem(policy, 'docs/v2.md', ['config/.env'])).toBeUndefined();
  });
});

describe('inspectViolations', () => {
  it('flags links onto denied files, the root, .git, and out of the repository', () => {
    expect(reasons([link('src/env', '../.env'), link('src/root', '..'), link('src/g', '../.git'), link('src/abs', '/home/u/repo/.env'), link('src/out', '../../etc/passwd')])).toEqual([
      'src/env: symbolic link onto denied path .env (deny rule ".env") (../.env)',
      'src/root: symbolic link onto the repository root (..)',
      'src/g: symbolic link onto git metadata (.git) (../.git)',
      'src/abs: symbolic link pointing outside the repository (/home/u/repo/.env: absolute target)',
      'src/out: symbolic link pointing outside the repository (../../etc/passwd: climbs above the repository root)',
    ]);
  });

  it('flags a link that reaches a denied file through another link', () => {
    expect(reasons([link('src/a', 'b/.env')], new Map([['src/b', '..']]))).toEqual(['src/a: symbolic link onto denied path .env (deny rule ".env") (b/.env)']);
  });

  it('flags byte copies and hard links of denied files, never an empty file', () => {
    const denied: DeniedFile[] = [{ label: '.env', repoPath: '.env', blobId: id(7), inode: { dev: 1, ino: 42 } }];
    expect(reasons([entry({ path: 'src/copy.txt', newId: id(7) }), entry({ path: 'src/hard.txt', newId: id(8), inode: { dev: 1, ino: 42 } }), entry({ path: 'src/other.txt', newId: id(9), inode: { dev: 2, ino: 42 } })], new Map(), denied)).toEqual([
      'src/copy.txt: copy of the bytes of the denied file .env',
      'src/hard.txt: hard link to the denied file .env',
    ]);
    // A denied file without a blob id (the empty ones) matches nothing.
    expect(reasons([entry({ newId: id(7) })], new Map(), [{ label: '.env', repoPath: '.env', blobId: undefined, inode: undefined }])).toEqual([]);
  });

  it('flags a gitlink, and an executable bit outside the write scope (a mode-only change included)', () => {
    expect(reasons([entry({ path: 'vendor/x', newMode: '160000' })])[0]).toMatch(/^vendor\/x: outside write scope; embedded repository \(gitlink/);
    expect(reasons([entry({ path: 'src/vendor', newMode: '160000' })])).toEqual(['src/vendor: embedded repository (gitlink, mode 160000): its content is outside review']);
    expect(reasons([entry({ path: 'scripts/deploy.sh', oldMode: '100644', newMode: '100755', oldId: id(3), newId: id(3), insertions: 0 })])).toEqual(['scripts/deploy.sh: outside write scope; made executable (mode 100755) outside the write scope']);
    expect(reasons([entry({ path: 'src/run.sh', oldMode: '100644', newMode: '100755', oldId: id(3), newId: id(3) })])).toEqual([]);
  });

  it('lets an innocent change through: in-scope files and a link inside the scope', () => {
    expect(reasons([entry({}), entry({ path: 'docs/v2.md' }), link('docs/latest', 'v2.md')], new Map(), [{ label: 'config/.env', repoPath: 'config/.env', blobId: id(99), inode: { dev: 1, ino: 1 } }])).toEqual([]);
  });
});

describe('changedBytes', () => {
  it('counts added, deleted, binary and text changes; gitlinks and mode-only changes count 0', () => {
    expect(changedBytes(entry({ newSize: 60_000_000, insertions: -1, deletions: -1 }))).toBe(60_000_000);
    expect(changedBytes(entry({ oldMode: '100644', newMode: '000000', oldId: id(1), newId: Z, oldSize: 500, newSize: 0 }))).toBe(500);
    expect(changedBytes(entry({ oldMode: '100644', oldId: id(1), newId: id(2), oldSize: 1000, newSize: 3000, insertions: -1, deletions: -1 }))).toBe(4000);
    expect(changedBytes(entry({ oldMode: '100644', oldId: id(1), newId: id(2), oldSize: 1000, newSize: 1200, insertions: 5, deletions: 1 }))).toBe(200);
    expect(changedBytes(entry({ newMode: '160000', newSize: 999 }))).toBe(0);
    expect(changedBytes(entry({ oldMode: '100644', newMode: '100755', oldId: id(1), newId: id(1), oldSize: 10 }))).toBe(0);
  });
});

describe('git output parsers', () => {
  it('parse raw diff, ls-tree -l and batch-check output', () => {
    expect(parseRawDiff(`:100644 100755 ${id(1)} ${id(1)} M\0a b.sh\0:000000 160000 ${Z} ${id(2)} A\0vendor/x\0`)).toEqual([
      { oldMode: '100644', newMode: '100755', oldId: id(1), newId: id(1), status: 'M', path: 'a b.sh' },
      { oldMode: '000000', newMode: '160000', oldId: Z, newId: id(2), status: 'A', path: 'vendor/x' },
    ]);
    expect(parseRawDiff(`:100644 100644 ${id(1)} ${id(2)} R090\0old\0new\0`)[0]?.path).toBe('new');
    expect(parseLsTree(`100644 blob ${id(1)}      12\t.env\u0000160000 commit ${id(2)}       -\tvendor/x\0`)).toEqual([
      { mode: '100644', type: 'blob', id: id(1), size: 12, path: '.env' },
      { mode: '160000', type: 'commit', id: id(2), size: -1, path: 'vendor/x' },
    ]);
    expect(parseNumstat('3\t1\tsrc/a b.ts\u0000-\t-\tbig.bin\u0000')).toEqual([
      { path: 'src/a b.ts', insertions: 3, deletions: 1 },
      { path: 'big.bin', insertions: -1, deletions: -1 },
    ]);
  });
});
