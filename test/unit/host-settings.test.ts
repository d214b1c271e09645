/** Which repository settings reach outside the OS sandbox, and the approval's fingerprint of them. */
import { expect, it } from 'vitest';
import { parseProfile } from '../../src/authz/profile.js';
import { parseConfig } from '../../src/definition/config.js';
import { hostSettings, hostSettingsFingerprint } from '../../src/definition/hostSettings.js';

const config = (text: string) => parseConfig('/r', text, 'r');
const builtin = parseProfile('implement', 'implement.yaml', 'env: [NODE_OPTIONS]\n', 'builtin');
const project = (env: string) => parseProfile('p', '.agentctl/profiles/p.yaml', `env: [${env}]\n`, '.agentctl/profiles/p.yaml');

it('lists sandbox.bin, notify, a project profile\'s env and the tools\' args; not built-in profiles, nor the command agent\'s args', () => {
  const c = config('sandbox:\n  bin: ./srt.sh\nnotify:\n  command: ./n.sh\n  webhook: https://hook.example/x\nagents:\n  claude:\n    args: [--dangerously-skip-permissions]\n  command:\n    bin: ./a.sh\n    args: [--fast]\n');
  expect(hostSettings(c, [builtin, project('GITHUB_TOKEN')]).map((s) => [s.setting, s.value])).toEqual([
    ['sandbox.bin', '/r/srt.sh'],
    ['notify.command', '/r/n.sh'],
    ['notify.webhook', 'https://hook.example/x'],
    ['.agentctl/profiles/p.yaml: env', 'GITHUB_TOKEN'],
    ['agents.claude.args', '--dangerously-skip-permissions'],
  ]);
  expect(hostSettings(config('agents:\n  command:\n    bin: ./a.sh\n'), [builtin])).toEqual([]);
});

it('the fingerprint changes with any setting or value, not with the explanation', () => {
  const c = config('notify:\n  command: ./n.sh\n');
  const one = hostSettings(c, [project('A')]);
  expect(hostSettingsFingerprint(one)).toBe(hostSettingsFingerprint(one.map((s) => ({ ...s, reach: 'other words' }))));
  expect(hostSettingsFingerprint(one)).not.toBe(hostSettingsFingerprint(hostSettings(c, [project('A, B')])));
  expect(hostSettingsFingerprint(one)).not.toBe(hostSettingsFingerprint(hostSettings(config('notify:\n  command: ./m.sh\n'), [project('A')])));
});
