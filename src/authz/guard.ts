/**
 * The command guard: agentctl's own command decision (`decideCommand`, as `policy check` answers), run
 * by an agent tool before each shell command as a `PreToolUse` hook. Pure; the hook entry point is
 * src/hooks/command-guard.ts.
 *
 * Used for Codex (permission profiles restrict the filesystem and network only) and Claude Code (its
 * permission rules auto-allow commands it deems read-only, such as `echo`, even in `dontAsk` mode).
 *
 * Hook protocol (Codex, developers.openai.com/codex/hooks, "PreToolUse"; the same JSON shapes as Claude
 * Code's hooks, code.claude.com/docs/en/hooks): the tool writes `{hook_event_name: "PreToolUse", tool_name: "Bash", tool_input:
 * {command}}` to the hook's stdin; the hook denies with `{hookSpecificOutput: {hookEventName:
 * "PreToolUse", permissionDecision: "deny", permissionDecisionReason}}` on stdout (a non-empty reason is
 * required) and allows by printing nothing and exiting 0.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { decideCommand } from './check.js';
import type { Policy, Sourced } from './policy.js';
import type { GeneratedFile } from './render/types.js';

/** The part of a policy the guard needs, as written to the guard's rules file (JSON). */
export interface GuardRules {
  commands: { allow: Sourced<string>[]; deny: Sourced<string>[] };
}

/** The guard rules of a policy: its `commands` allow/deny lists, sources kept. Pure. */
export function guardRules(policy: Policy): GuardRules {
  return { commands: { allow: policy.commands.allow, deny: policy.commands.deny } };
}

/** The hook's verdict: allow (print nothing), or deny with its reason (print {@link guardDenyJson}). */
export type GuardOutput = { allow: true } | { allow: false; reason: string; /** The guard itself failed (it then also exits 2). */ failed?: true };

/**
 * The deny object the hook prints on stdout (one line of JSON):
 * `{hookSpecificOutput: {hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason}}`.
 * Pure.
 * @param reason the non-empty reason shown to the agent (a deny's {@link GuardOutput} `reason`)
 */
export function guardDenyJson(reason: string): Record<string, unknown> {
  return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: reason } };
}

/**
 * Decide one hook call with {@link decideCommand}. Pure.
 * @param rules the run's guard rules
 * @param input the hook's stdin, parsed; anything without a string `tool_input.command` is not a shell
 *   command and is allowed (the tool's own permissions decide it)
 * @returns allow, or deny with the reason (naming the deciding rule, or the allowed list)
 */
export function guardDecision(rules: GuardRules, input: unknown): GuardOutput {
  const toolInput = (input as { tool_input?: { command?: unknown } } | null)?.tool_input;
  const command = toolInput?.command;
  if (typeof command !== 'string') return { allow: true };
  const d = decideCommand(rules, command);
  if (d.allowed) return { allow: true };
  const reason = d.rule
    ? `agentctl policy: command denied by rule "${d.rule.value}" (${d.rule.source})`
    : `agentctl policy: command not in the allowed list (${rules.commands.allow.map((r) => r.value).join(', ') || 'none'})`;
  return { allow: false, reason };
}

/**
 * A deny for when the guard itself cannot decide (bad rules file, unreadable input): fail closed. Pure.
 * @param message what went wrong (put into the reason)
 * @returns a deny with `failed: true` (the hook then also exits 2)
 */
export function guardFailure(message: string): GuardOutput & { allow: false } {
  return { allow: false, failed: true, reason: `agentctl command guard failed closed: ${message}` };
}

/** How to start the command guard hook: this Node and the built guard script (absolute paths). */
export interface CommandGuard {
  node: string;
  script: string;
}

/** Seconds the tool waits for the guard hook. */
const GUARD_TIMEOUT_S = 30;

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The `hooks` block that runs the command guard before every shell command: the same shape in Claude
 * Code settings (code.claude.com/docs/en/hooks) and Codex `hooks.json` (developers.openai.com/codex/hooks):
 * `{PreToolUse: [{matcher: "Bash", hooks: [{type: "command", command, timeout}]}]}`; both report their
 * shell tool to hooks as `Bash` with `tool_input.command`.
 * Pure.
 * @param guard how to start the guard (absolute paths; shell-quoted into the command)
 * @param rulesPath absolute path of the rules file ({@link GuardRules} as JSON)
 * @param rulesSha256 hex SHA-256 of the rules file's exact content: the guard refuses (fails closed) a
 *   rules file that does not match, so rewriting it mid-run loosens nothing
 */
export function guardHooks(guard: CommandGuard, rulesPath: string, rulesSha256: string): Record<string, unknown> {
  return {
    PreToolUse: [
      {
        matcher: 'Bash',
        hooks: [{ type: 'command', command: [guard.node, guard.script, rulesPath, rulesSha256].map(shellQuote).join(' '), timeout: GUARD_TIMEOUT_S }],
      },
    ],
  };
}

/** File name of the guard's rules file, next to the tool's generated settings. */
const RULES_FILE = 'agentctl-command-rules.json';

/**
 * Everything a renderer needs to install the command guard, as Claude Code and Codex both do. Pure.
 * @param policy the run's policy (its command rules go into the rules file)
 * @param guard how to start the guard hook
 * @param dir absolute folder (outside the worktree) for the rules file
 * @returns `hooks`: the block for the tool's settings ({@link guardHooks}), naming the rules file and its hash;
 *   `files`: the rules file `<dir>/agentctl-command-rules.json` ({@link guardRules} as pretty JSON)
 */
export function guardFiles(policy: Policy, guard: CommandGuard, dir: string): { hooks: Record<string, unknown>; files: GeneratedFile[] } {
  const rulesPath = join(dir, RULES_FILE);
  const content = JSON.stringify(guardRules(policy), null, 2) + '\n';
  return {
    hooks: guardHooks(guard, rulesPath, sha256Hex(content)),
    files: [{ path: rulesPath, content }],
  };
}

/** Hex SHA-256 of a text (UTF-8), as the guard checks its rules file. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
