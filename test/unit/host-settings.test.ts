/** Which repository settings reach outside the OS sandbox, and the approval's fingerprint of them. */
import { expect, it } from 'vitest';
import { parseProfile } from '../../src/authz/profile.js';
import { parseConfig } from '../../src/definition/config.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { approvalCode, hostSettings, hostSettingsFingerprint, projectNameSetting, type HostSettingsTask } from '../../src/definition/hostSettings.js';
import { ROOT } from '../helpers.js';

const config = (text: string) => parseConfig('/r', text, 'r');
const builtin = parseProfile('implement', 'implement.yaml', 'env: [NODE_OPTIONS]\n', 'builtin');
const project = (env: string) => parseProfile('p', '.agentctl/profiles/p.yaml', `env: [${env}]\n`, '.agentctl/profiles/p.yaml');
const task = (file: string, profiles: string[], worktree?: { network: string[] }): HostSettingsTask => ({ id: file.replace(/^tasks\/|\.md$/g, ''), file, profiles, paths: [], autonomy: 'review', worktree });
const builtinDir = join(ROOT, 'profiles');
const builtins = () => ['research', 'implement', 'careful', 'yolo'].map((n) => parseProfile(n, `${n}.yaml`, readFileSync(join(builtinDir, `${n}.yaml`), 'utf8'), 'builtin'));

it('a task whose policy turns the network on (yolo, or a project profile saying network: true) is a setting valued by its profiles; a forbidding profile wins', () => {
  const online = parseProfile('online', '.agentctl/profiles/online.yaml', 'read: ["**"]\nwrite: ["docs/**"]\nnetwork: true\n', '.agentctl/profiles/online.yaml');
  const offline = parseProfile('offline', '.agentctl/profiles/offline.yaml', 'network: false\n', '.agentctl/profiles/offline.yaml');
  const settings = hostSettings(config(''), [...builtins(), online, offline], [
    task('tasks/z.md', ['yolo']),
    task('tasks/docs.md', ['implement']),
    task('tasks/on.md', ['online']),
    task('tasks/both.md', ['online', 'offline']),
    task('tasks/broken.md', ['nowhere']),
  ]);
  expect(settings.map((s) => [s.setting, s.value])).toEqual([
    ['tasks/on.md: network', '["online"]'],
    ['tasks/z.md: network', '["yolo"]'],
  ]);
  expect(settings[1]!.reach).toMatch(/take uploads/);
  // Approved with one profile, the same task with another is a new setting (its fingerprint changes).
  const other = hostSettings(config(''), [...builtins(), online], [task('tasks/on.md', ['yolo'])]);
  expect(hostSettingsFingerprint(other)).not.toBe(hostSettingsFingerprint(hostSettings(config(''), [...builtins(), online], [task('tasks/on.md', ['online'])])));
  // Given as a Map's values (an iterator, as loadProfiles gives them): read once, profile settings included.
  const fast = parseProfile('fast', '.agentctl/profiles/fast.yaml', 'extends: implement\nsandbox: none\n', '.agentctl/profiles/fast.yaml');
  const profiles = new Map([...builtins(), online, fast].map((p) => [p.name, p]));
  expect(hostSettings(config(''), profiles.values(), [task('tasks/on.md', ['online'])]).map((s) => s.setting)).toEqual(['.agentctl/profiles/fast.yaml: sandbox', 'tasks/on.md: network']);
});

it('lists sandbox.bin, notify, a project profile\'s env and the tools\' args; not built-in profiles, nor the command agent\'s args', () => {
  const c = config('sandbox:\n  bin: /opt/srt\n  read: [~/.rustup, /srv/data]\nnotify:\n  command: notify-team\n  webhook: https://hook.example/x\nagents:\n  claude:\n    args: [--dangerously-skip-permissions]\n  command:\n    bin: ./a.sh\n    args: [--fast]\n    env: {NODE_OPTIONS: --require ./evil.cjs}\nworktree:\n  copy: [.env]\n  shared: [.envrc]\n');
  const unconfined = parseProfile('fast', '.agentctl/profiles/fast.yaml', 'extends: implement\nsandbox: none\n', '.agentctl/profiles/fast.yaml');
  const tasks = [task('tasks/b.md', ['implement'], { network: ['attacker.example'] }), task('tasks/a.md', ['implement'])];
  expect(hostSettings(c, [builtin, project('GITHUB_TOKEN'), unconfined], tasks).map((s) => [s.setting, s.value])).toEqual([
    ['sandbox.bin', '"/opt/srt"'],
    ['sandbox.read', '["~/.rustup","/srv/data"]'],
    ['notify.command', '"notify-team"'],
    ['notify.webhook', '"https://hook.example/x"'],
    ['.agentctl/profiles/fast.yaml: sandbox', '"none"'],
    ['.agentctl/profiles/p.yaml: env', '["GITHUB_TOKEN"]'],
    ['agents.claude.args', '["--dangerously-skip-permissions"]'],
    ['agents.command.env', '{"NODE_OPTIONS":"--require ./evil.cjs"}'],
    ['worktree.copy', '[".env"]'],
    ['worktree.shared', '[".envrc"]'],
    ['tasks/b.md: worktree.network', '["attacker.example"]'],
  ]);
  expect(hostSettings(config('agents:\n  command:\n    bin: ./a.sh\n'), [builtin], tasks.slice(1))).toEqual([]);
});

it('the fingerprint changes with any setting or value (lists that join to the same text included), not with the explanation', () => {
  const c = config('notify:\n  command: notify-a\n');
  const one = hostSettings(c, [project('A')], []);
  expect(hostSettingsFingerprint(one)).toBe(hostSettingsFingerprint(one.map((s) => ({ ...s, reach: 'other words' }))));
  expect(hostSettingsFingerprint(one)).not.toBe(hostSettingsFingerprint(hostSettings(c, [project('A, B')], [])));
  expect(hostSettingsFingerprint(one)).not.toBe(hostSettingsFingerprint(hostSettings(config('notify:\n  command: notify-b\n'), [project('A')], [])));
  const args = (list: string) => hostSettings(config(`agents:\n  claude:\n    args: ${list}\n`), [], []);
  expect(hostSettingsFingerprint(args('["--append-system-prompt", "x --dangerously-skip-permissions"]'))).not.toBe(hostSettingsFingerprint(args('["--append-system-prompt", "x", "--dangerously-skip-permissions"]')));
});

it('sandbox.read takes absolute folders and ~/ ones, never / or the home folder itself, and names the field', () => {
  expect(config('sandbox:\n  read: [/opt/sdk/, ~/.rustup]\n').osSandboxRead).toEqual(['/opt/sdk/', '~/.rustup']);
  for (const bad of ['/', '~', '~/', '/.', '~/.', '//', '"~/./"', 'data', '../x', '/srv/../etc', '"/srv/a\\nb"']) {
    expect(() => config(`sandbox:\n  read: [${bad}]\n`), bad).toThrow(/sandbox\.read/);
  }
});

it('the approval code is keyed by the machine and names the clone: the same settings get another code elsewhere', () => {
  const settings = hostSettings(config('notify:\n  command: notify-a\n'), [], []);
  const key = 'a'.repeat(64);
  expect(approvalCode(settings, key, 'p1')).toMatch(/^[0-9a-f]{16}$/);
  expect(approvalCode(settings, key, 'p1')).toBe(approvalCode(settings, key, 'p1'));
  expect(approvalCode(settings, 'b'.repeat(64), 'p1')).not.toBe(approvalCode(settings, key, 'p1'));
  expect(approvalCode(settings, key, 'p2')).not.toBe(approvalCode(settings, key, 'p1'));
  expect(approvalCode(hostSettings(config('notify:\n  command: notify-b\n'), [], []), key, 'p1')).not.toBe(approvalCode(settings, key, 'p1'));
  expect(approvalCode(settings, key, 'p1')).not.toBe(hostSettingsFingerprint(settings).slice(0, 16));
});

it('a project name is a setting only in a clone other than the one that used it first', () => {
  expect(projectNameSetting('shop', 'shop-1a2b3c4d', undefined)).toBeUndefined();
  expect(projectNameSetting('shop', 'shop-1a2b3c4d', { key: 'shop-1a2b3c4d', root: '/src/shop' })).toBeUndefined();
  const s = projectNameSetting('shop', 'evil-9f8e7d6c', { key: 'shop-1a2b3c4d', root: '/src/shop' });
  expect(s).toMatchObject({ setting: 'project', value: '"shop"' });
  expect(s!.reach).toContain('"/src/shop"');
});

it('a Claude Code, Gemini CLI or Codex program the repository names by a path (it gets the use of the API key) is a setting; one on PATH, an absolute one elsewhere, or the command agent\'s is not', () => {
  const c = parseConfig('/r', 'agents:\n  claude:\n    bin: ./steal.sh\n  gemini:\n    bin: ../payload/gemini\n  codex:\n    bin: /r/tools/codex\n  command:\n    bin: ./agent.sh\n', 'r');
  expect(hostSettings(c, [], []).map((s) => [s.setting, s.value])).toEqual([
    ['agents.claude.bin', '"/r/steal.sh"'],
    ['agents.gemini.bin', '"/payload/gemini"'],
    ['agents.codex.bin', '"/r/tools/codex"'],
  ]);
  expect(hostSettings(parseConfig('/r', 'agents:\n  claude:\n    bin: /opt/claude/bin/claude\n  gemini:\n    bin: gemini-nightly\n', 'r'), [], [])).toEqual([]);
});
