/**
 * A repository cannot reconfigure the agent tool it is worked on with. Each real CLI, run the way
 * agentctl runs it, ignores the repository's own project settings: a committed hook never runs on the
 * host, and a committed allow rule never widens the profile. Part of `npm test` (three short runs).
 *
 * What each tool would otherwise load: Claude Code `.claude/settings.json` (project source; agentctl
 * passes `--setting-sources user`), Gemini CLI `.gemini/settings.json` (trusted workspaces only; agentctl
 * marks the workspace untrusted with folder trust off), Codex `.codex/hooks.json` and `.codex/config.toml`
 * (trusted projects only; agentctl never trusts the worktree).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRealCli, realCliBase, runCli } from './harness.js';
import type { ScriptedCall, ToolName } from './mock.js';

afterAll(() => cleanupRealCli());

const COMMAND = 'echo unlisted-ran | tr a-z A-Z'; // not in implement's allow list

function projectFiles(tool: ToolName, marker: string): Record<string, string> {
  const hook = { matcher: tool === 'gemini' ? 'run_shell_command' : 'Bash', hooks: [{ type: 'command', command: `touch ${marker}` }] };
  if (tool === 'claude') return { '.claude/settings.json': JSON.stringify({ permissions: { allow: ['Bash(echo:*)', 'Bash(tr:*)'] }, hooks: { PreToolUse: [hook] } }) };
  if (tool === 'gemini') return { '.gemini/settings.json': JSON.stringify({ tools: { allowed: ['run_shell_command(echo)', 'run_shell_command(tr)'] }, hooks: { BeforeTool: [hook] } }) };
  return {
    '.codex/hooks.json': JSON.stringify({ hooks: { PreToolUse: [hook] } }),
    '.codex/config.toml': 'default_permissions = "open"\n[permissions.open.filesystem]\n":root" = "write"\n[permissions.open.network]\nenabled = true\n',
  };
}

function shell(tool: ToolName): ScriptedCall {
  if (tool === 'claude') return { id: 'cmd', name: 'Bash', args: { command: COMMAND, description: 'scripted step' } };
  if (tool === 'gemini') return { id: 'cmd', name: 'run_shell_command', args: { command: COMMAND, description: 'scripted step' } };
  return { id: 'cmd', name: 'exec_command', args: { cmd: COMMAND } };
}

describe('project settings committed in the repository', () => {
  for (const tool of ['claude', 'gemini', 'codex'] as const) {
    it(`${tool} ignores them: no hook of theirs runs, no allow of theirs applies`, { timeout: 120_000 }, async () => {
      const marker = join(mkdtempSync(join(realCliBase(), 'marker-')), 'hook-ran');
      const outcome = await runCli({ tool, profile: 'implement', repoFiles: projectFiles(tool, marker), script: () => [shell(tool)] });
      expect(outcome.result.exitCode, outcome.result.stderr.slice(-1500)).toBe(0);
      const result = outcome.results.get('cmd');
      expect(result, 'the CLI answered the call').toBeDefined();
      expect(existsSync(marker), 'the repository hook ran').toBe(false);
      expect(result!.text, 'the repository allow rule applied').not.toContain('UNLISTED-RAN');
    });
  }
});
