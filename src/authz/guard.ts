/**
 * The command guard: agentctl's own command decision (`decideCommand`, as `policy check` answers), run
 * by an agent tool before each shell command as a `PreToolUse` hook; for Codex also before each file
 * edit (`apply_patch`), whose target paths get `decidePath`'s write decision. Pure; the hook entry point
 * is src/hooks/command-guard.ts.
 *
 * Used for Codex (permission profiles restrict the filesystem and network only, and inside the OS
 * sandbox nothing narrows its file tool below the whole worktree) and Claude Code (its permission rules
 * auto-allow commands it deems read-only, such as `echo`, even in `dontAsk` mode; its file tools keep
 * their own path rules).
 *
 * Hook protocol (Codex, developers.openai.com/codex/hooks, "PreToolUse"; the same JSON shapes as Claude
 * Code's hooks, code.claude.com/docs/en/hooks): the tool writes `{hook_event_name: "PreToolUse", tool_name: "Bash", tool_input:
 * {command}}` to the hook's stdin; the hook denies with `{hookSpecificOutput: {hookEventName:
 * "PreToolUse", permissionDecision: "deny", permissionDecisionReason}}` on stdout (a non-empty reason is
 * required) and allows by printing nothing and exiting 0.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { decideCommand, decidePath, type PathRules } from './check.js';
import type { Policy, Sourced } from './policy.js';
import type { GeneratedFile } from './render/types.js';

/** The part of a policy the guard needs, as written to the guard's rules file (JSON). */
export interface GuardRules {
  commands: { allow: Sourced<string>[]; deny: Sourced<string>[] };
  /** For a file tool's target paths: the worktree (absolute) they are judged relative to, and the path rules. */
  files: { root: string; rules: PathRules };
}

/**
 * The guard rules of a policy: its `commands` allow/deny lists and its path rules, sources kept. Pure.
 * @param root the run's worktree (absolute)
 */
export function guardRules(policy: Policy, root: string): GuardRules {
  return {
    commands: { allow: policy.commands.allow, deny: policy.commands.deny },
    files: { root, rules: { read: policy.read, write: policy.write, deny: policy.deny, protected: policy.protected } },
  };
}

/** A patch's file header: `*** Add File: <path>`, `*** Update File: <path>`, `*** Delete File: <path>`, `*** Move to: <path>`. */
const PATCH_TARGET = /^\s*\*\*\* (?:Add File|Update File|Delete File|Move to):\s*(.*?)\s*$/;

/**
 * Every path a Codex `apply_patch` envelope writes, creates, deletes or moves a file to (its `*** … File:`
 * and `*** Move to:` headers), in order. Source: openai/codex `codex-rs/apply-patch` (the patch grammar:
 * `*** Begin Patch`, file operations, `*** End Patch`). A line that only looks like a header (inside a
 * hunk, indented) is counted too: the guard then judges a path more, never one less. Pure.
 * @returns the paths as written in the patch (relative or absolute), possibly empty
 */
export function patchTargets(patch: string): string[] {
  const out: string[] = [];
  for (const line of patch.split(/\r?\n/)) {
    const m = PATCH_TARGET.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/**
 * Decide a Codex `apply_patch` call: every target path must be inside the worktree and writable under
 * the policy ({@link decidePath} `write`); a patch with no target found is refused (fail closed). Pure.
 * @param cwd the tool's working directory from the hook input (relative targets resolve against it when
 *   it is inside the worktree; else against the worktree)
 */
function patchDecision(rules: GuardRules, patch: unknown, cwd: unknown): GuardOutput {
  if (typeof patch !== 'string') return { allow: false, reason: 'agentctl policy: apply_patch without a patch text; refused' };
  const targets = patchTargets(patch);
  if (targets.length === 0) return { allow: false, reason: 'agentctl policy: no file found in this patch (*** Add File: / *** Update File: / *** Delete File: / *** Move to:); refused' };
  const { root } = rules.files;
  const inside = (abs: string): string | undefined => {
    const rel = relative(root, abs);
    return rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel) ? undefined : rel.split(sep).join('/');
  };
  const base = typeof cwd === 'string' && isAbsolute(cwd) && inside(resolve(cwd)) !== undefined ? resolve(cwd) : root;
  for (const target of targets) {
    const rel = inside(resolve(base, target));
    if (rel === undefined) return { allow: false, reason: `agentctl policy: apply_patch may not write ${JSON.stringify(target)}: outside the worktree` };
    const d = decidePath(rules.files.rules, 'write', rel);
    if (d.allowed) continue;
    const why = d.rule ? `${d.rule.kind} rule "${d.rule.value}" (${d.rule.source})` : `not in the write scope (${rules.files.rules.write.map((r) => r.value).join(', ') || 'none'})`;
    return { allow: false, reason: `agentctl policy: apply_patch may not write ${rel}: ${why}` };
  }
  return { allow: true };
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
 * Decide one hook call. Pure.
 * - `tool_name: "apply_patch"` (Codex's file tool; its raw patch in `tool_input.command`, since openai/codex
 *   PR #18391): every file it touches must be writable ({@link patchTargets}, {@link decidePath});
 * - any other call with a string `tool_input.command` is a shell command: {@link decideCommand};
 * - anything else is allowed (the tool's own permissions decide it).
 * @param rules the run's guard rules
 * @param input the hook's stdin, parsed (`tool_name`, `tool_input`, `cwd`)
 * @returns allow, or deny with the reason (naming the deciding rule, the allowed list or the path)
 */
export function guardDecision(rules: GuardRules, input: unknown): GuardOutput {
  const call = input as { tool_name?: unknown; tool_input?: { command?: unknown; input?: unknown; patch?: unknown }; cwd?: unknown } | null;
  const toolInput = call?.tool_input;
  if (call?.tool_name === 'apply_patch') return patchDecision(rules, [toolInput?.command, toolInput?.input, toolInput?.patch].find((v) => typeof v === 'string'), call.cwd);
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
 * The `hooks` block that runs the command guard before every matching tool call: the same shape in
 * Claude Code settings (code.claude.com/docs/en/hooks) and Codex `hooks.json`
 * (developers.openai.com/codex/hooks): `{PreToolUse: [{matcher, hooks: [{type: "command", command,
 * timeout}]}]}`; both report their shell tool to hooks as `Bash` with `tool_input.command`, and Codex its
 * file tool as `apply_patch`.
 * Pure.
 * @param guard how to start the guard (absolute paths; shell-quoted into the command)
 * @param rulesPath absolute path of the rules file ({@link GuardRules} as JSON)
 * @param rulesSha256 hex SHA-256 of the rules file's exact content: the guard refuses (fails closed) a
 *   rules file that does not match, so rewriting it mid-run loosens nothing
 * @param matcher the tool names the hook runs for (a regular expression over the hook's `tool_name`): `Bash`,
 *   or for Codex `Bash|apply_patch`
 */
export function guardHooks(guard: CommandGuard, rulesPath: string, rulesSha256: string, matcher = 'Bash'): Record<string, unknown> {
  return {
    PreToolUse: [
      {
        matcher,
        hooks: [{ type: 'command', command: [guard.node, guard.script, rulesPath, rulesSha256].map(shellQuote).join(' '), timeout: GUARD_TIMEOUT_S }],
      },
    ],
  };
}

/** File name of the guard's rules file, next to the tool's generated settings. */
const RULES_FILE = 'agentctl-command-rules.json';

/**
 * Everything a renderer needs to install the command guard, as Claude Code and Codex both do. Pure.
 * @param policy the run's policy (its command and path rules go into the rules file)
 * @param guard how to start the guard hook
 * @param dir absolute folder (outside the worktree) for the rules file
 * @param where.root the run's worktree (absolute); where.matcher the tools the hook runs for (default `Bash`)
 * @returns `hooks`: the block for the tool's settings ({@link guardHooks}), naming the rules file and its hash;
 *   `files`: the rules file `<dir>/agentctl-command-rules.json` ({@link guardRules} as pretty JSON)
 */
export function guardFiles(policy: Policy, guard: CommandGuard, dir: string, where: { root: string; matcher?: string }): { hooks: Record<string, unknown>; files: GeneratedFile[] } {
  const rulesPath = join(dir, RULES_FILE);
  const content = JSON.stringify(guardRules(policy, where.root), null, 2) + '\n';
  return {
    hooks: guardHooks(guard, rulesPath, sha256Hex(content), where.matcher),
    files: [{ path: rulesPath, content }],
  };
}

/** Hex SHA-256 of a text (UTF-8), as the guard checks its rules file. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
