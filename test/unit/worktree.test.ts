/** The `worktree:` block: its schema in `.agentrc.yaml` and task front matter, the override rule, the deny check. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composePolicy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { InputError } from '../../src/core/errors.js';
import { parseConfig } from '../../src/definition/config.js';
import { parseTaskFile, type TaskDefaults } from '../../src/definition/task.js';
import { DEFAULT_PORTS, deniedEntry, deniedReason, resolveWorktree } from '../../src/definition/worktree.js';
import { ROOT } from '../helpers.js';

const defaults: TaskDefaults = { agent: 'claude', profiles: ['implement'], gate: undefined, timeoutMs: 1_800_000 };
const config = (yaml: string) => parseConfig('/repo', yaml, 'repo');
const task = (front: string) => parseTaskFile('tasks/t.md', `---\n${front}\n---\nDo it.\n`, defaults);

function policy(extraDeny: string[] = []) {
  const m = new Map<string, Profile>();
  for (const f of readdirSync(join(ROOT, 'profiles'))) m.set(f.replace('.yaml', ''), parseProfile(f.replace('.yaml', ''), f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
  const extra = `deny: [${extraDeny.map((d) => JSON.stringify(d)).join(', ')}]\n`;
  m.set('extra', parseProfile('extra', 'extra.yaml', extra, 'project'));
  return composePolicy({ id: 't', file: 'tasks/t.md', profiles: ['implement', 'extra'], paths: [], autonomy: 'review' }, m, { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });
}

describe('worktree block', () => {
  it('parses in .agentrc.yaml and in a task, normalizing paths', () => {
    const c = config('worktree:\n  setup: [npm ci --prefer-offline]\n  teardown: [make clean]\n  shared: [./node_modules/, .cache/x]\n  copy: [fixtures]\n  ports: 3\n  network: [registry.npmjs.org, "*.npmjs.org"]\n');
    expect(c.worktree).toEqual({ setup: ['npm ci --prefer-offline'], teardown: ['make clean'], shared: ['node_modules', '.cache/x'], copy: ['fixtures'], ports: 3, network: ['registry.npmjs.org', '*.npmjs.org'] });
    expect(task('worktree:\n  shared: [node_modules]').worktree).toEqual({ shared: ['node_modules'] });
    expect(config('').worktree).toEqual({});
  });

  it.each([
    ['shared: [../up]', 'worktree.shared.0', /inside the repository/],
    ['shared: [/abs]', 'worktree.shared.0', /inside the repository/],
    ['copy: ["*.local"]', 'worktree.copy.0', /not a glob/],
    ['shared: [.git/objects]', 'worktree.shared.0', /\.git or \.agentctl/],
    ['shared: [.]', 'worktree.shared.0', /inside the repository/],
    ['ports: 0', 'worktree.ports', /./],
    ['ports: 101', 'worktree.ports', /./],
    ['network: true', 'worktree.network', /./],
    ['network: ["*"]', 'worktree.network.0', /host name/],
    ['network: ["*.com"]', 'worktree.network.0', /host name/],
    ['setup: npm ci', 'worktree.setup', /./],
    ['unknown: 1', 'worktree.unknown', /unknown field/],
  ])('refuses %s, naming the field', (yaml, field, message) => {
    for (const parse of [() => config(`worktree:\n  ${yaml}\n`), () => task(`worktree:\n  ${yaml}`)]) {
      try {
        parse();
        expect.unreachable(yaml);
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        expect((error as InputError).field).toBe(field);
        expect((error as Error).message).toMatch(message);
      }
    }
  });

  it('a task overrides the project field by field: a field it sets replaces the project\'s, one it leaves out is inherited', () => {
    const project = config('worktree:\n  setup: [npm ci]\n  shared: [node_modules]\n  ports: 4\n').worktree;
    expect(resolveWorktree(project, undefined)).toEqual({ setup: ['npm ci'], teardown: [], shared: ['node_modules'], copy: [], ports: 4, setupHosts: [] });
    expect(resolveWorktree(project, task('worktree:\n  setup: []\n  copy: [a]').worktree)).toEqual({ setup: [], teardown: [], shared: ['node_modules'], copy: ['a'], ports: 4, setupHosts: [] });
    expect(resolveWorktree(undefined, undefined).ports).toBe(DEFAULT_PORTS);
  });

  it('deniedReason: a denied path, or a folder holding what a rooted deny glob names; name-only globs cannot refuse a folder', () => {
    const p = policy(['secrets/**', 'config/keys/*.json']);
    expect(deniedReason(p, '.env')).toMatch(/denied by "\.env"/);
    expect(deniedReason(p, 'config/.env.local')).toMatch(/denied by "\.env\.\*"/);
    expect(deniedReason(p, 'secrets')).toMatch(/secrets\/\*\*/);
    expect(deniedReason(p, 'secrets/sub')).toMatch(/secrets\/\*\*/);
    expect(deniedReason(p, 'config')).toMatch(/holds what "config\/keys\/\*\.json" denies/);
    expect(deniedReason(p, 'node_modules')).toBeUndefined();
    expect(deniedReason(p, 'configuration')).toBeUndefined();
    expect(deniedEntry(p, ['fixtures', 'fixtures/a.json', 'fixtures/server.pem'])).toEqual({ path: 'fixtures/server.pem', rule: '*.pem' });
    expect(deniedEntry(p, ['fixtures/a.json'])).toBeUndefined();
  });
});
