/**
 * The command guard hook as Codex starts it: a real `node dist/hooks/command-guard.js <rules>` child
 * process, hook JSON on stdin (needs `npm run build`, which `npm test` runs first).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guardDenyJson, guardRules, sha256Hex } from '../../src/authz/guard.js';
import { composePolicy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { ROOT } from '../helpers.js';

const GUARD = join(ROOT, 'dist', 'hooks', 'command-guard.js');
const profiles = new Map<string, Profile>();
for (const f of readdirSync(join(ROOT, 'profiles'))) profiles.set(f.replace('.yaml', ''), parseProfile(f.replace('.yaml', ''), f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
const research = composePolicy({ id: 't', file: 't.md', profiles: ['research'], paths: [], autonomy: 'review' }, profiles, { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });

function hook(rulesFile: string, stdin: string, hash?: string) {
  let expected = hash;
  if (expected === undefined) {
    try {
      expected = sha256Hex(readFileSync(rulesFile, 'utf8'));
    } catch {
      expected = '0'.repeat(64);
    }
  }
  const r = spawnSync(process.execPath, [GUARD, rulesFile, expected], { input: stdin, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('command guard hook process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentctl-guard-'));
  const rules = join(dir, 'rules.json');
  writeFileSync(rules, JSON.stringify(guardRules(research, '/w')));
  const call = (command: string) => JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command } });

  it('prints nothing and exits 0 for an allowed command', () => {
    expect(hook(rules, call('git status'))).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('prints a PreToolUse deny with the reason for a denied command', () => {
    const r = hook(rules, call('npm test'));
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string } };
    expect(out.hookSpecificOutput.permissionDecision).toBe('deny');
    expect(out.hookSpecificOutput.permissionDecisionReason).toContain('not in the allowed list');
    expect(out).toEqual(guardDenyJson(out.hookSpecificOutput.permissionDecisionReason));
    expect(r.stderr).toBe('');
  });

  it("judges a Codex apply_patch's files: the protocol report is writable under research, a doc is not", () => {
    const patch = (path: string) => JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'apply_patch', tool_input: { command: `*** Begin Patch\n*** Add File: ${path}\n+x\n*** End Patch\n` }, cwd: '/w' });
    expect(hook(rules, patch('.agentctl/status.jsonl'))).toEqual({ status: 0, stdout: '', stderr: '' });
    const r = hook(rules, patch('docs/x.md'));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).hookSpecificOutput).toMatchObject({ permissionDecision: 'deny', permissionDecisionReason: expect.stringContaining('apply_patch may not write docs/x.md') });
  });

  it('fails closed (deny, exit 2) on a rules file without path rules (an older or forged one)', () => {
    const old = join(dir, 'commands-only.json');
    writeFileSync(old, JSON.stringify({ commands: guardRules(research, '/w').commands }));
    const r = hook(old, call('git status'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no path rules/);
  });

  it('fails closed (deny, exit 2) on a missing or malformed rules file and on unreadable input', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"commands": 1}');
    for (const [file, input] of [[join(dir, 'missing.json'), call('git status')], [bad, call('git status')], [rules, 'not json']] as const) {
      const r = hook(file, input);
      expect(r.status, file).toBe(2);
      expect(r.stderr).toContain('failed closed');
      expect(JSON.parse(r.stdout), file).toEqual(guardDenyJson(r.stderr.trim())); // the deny carries the reason printed on stderr
    }
  });
});

describe('command guard rules integrity', () => {
  it('refuses every command once the rules file was rewritten after agentctl wrote it (e.g. loosened by unconfined code)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentctl-guard-'));
    const rules = join(dir, 'rules.json');
    const original = JSON.stringify(guardRules(research, '/w'));
    writeFileSync(rules, original);
    const hash = sha256Hex(original);
    const call = JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'git status' } });
    expect(hook(rules, call, hash).stdout).toBe('');
    writeFileSync(rules, JSON.stringify({ commands: { allow: [{ value: '*', source: 'forged' }], deny: [] } }));
    const r = hook(rules, call, hash);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/was changed after agentctl wrote it/);
    expect(JSON.parse(r.stdout).hookSpecificOutput.permissionDecision).toBe('deny');
  });
});

describe('removePlaceholders (after a Codex run)', () => {
  it('removes only the empty regular files left at the listed paths', async () => {
    const { removePlaceholders } = await import('../../src/exec/worktree.js');
    const { mkdirSync, existsSync, chmodSync } = await import('node:fs');
    const wt = mkdtempSync(join(tmpdir(), 'agentctl-ph-'));
    writeFileSync(join(wt, '.mcp.json'), '');
    chmodSync(join(wt, '.mcp.json'), 0o000); // as Codex leaves it
    writeFileSync(join(wt, '.agentrc.yaml'), 'written: by the agent\n');
    mkdirSync(join(wt, '.claude'));
    const listed = ['.mcp.json', '.agentrc.yaml', '.claude', '.gemini'].map((p) => join(wt, p));
    expect(removePlaceholders(listed)).toEqual([join(wt, '.mcp.json')]);
    expect(existsSync(join(wt, '.mcp.json'))).toBe(false);
    expect(readFileSync(join(wt, '.agentrc.yaml'), 'utf8')).toContain('by the agent'); // left for the scope check
    expect(existsSync(join(wt, '.claude'))).toBe(true);
  });
});
