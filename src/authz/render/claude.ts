/**
 * Claude Code renderer: policy → a settings JSON passed with `--settings <file>` plus `--permission-mode`.
 *
 * Source: Claude Code docs, "Configure permissions" (code.claude.com/docs/en/permissions) and
 * "Settings" (code.claude.com/docs/en/settings):
 * - rules are `Tool` or `Tool(specifier)`; deny is checked before allow; a deny in any settings scope wins;
 * - `Read(...)`/`Edit(...)` use gitignore patterns: `./p` is relative to the working directory, `//p` is
 *   absolute, `~/p` is under home, and `/p` is relative to the *settings file's* directory (so never used
 *   here: our file lives outside the worktree); `Edit` rules cover every built-in editing tool;
 *   path rules named `Write(...)` are never consulted, so writes are expressed as `Edit(...)`;
 * - `Bash(prefix:*)` matches the prefix followed by anything; compound commands are split;
 * - `defaultMode: "dontAsk"` denies whatever is not allowed instead of prompting. It is used for every
 *   profile, `yolo` included: `yolo` gets broad allows (`Read`, `Edit(./**)`, `Bash`, and `WebFetch`/
 *   `WebSearch` when the network is on) instead of `bypassPermissions`, because Claude Code refuses
 *   `bypassPermissions` when running as root ("--dangerously-skip-permissions cannot be used with
 *   root/sudo privileges", exit 1; observed with 2.1.330), as in containers and CI;
 * - in `-p` mode the default permission mode may be `auto` when feature flags are not fetched, so the
 *   mode is also passed explicitly with `--permission-mode`;
 * - `--setting-sources user` loads only the per-run user settings (`CLAUDE_CONFIG_DIR`) besides the
 *   `--settings` file: the worktree's own `.claude/settings*.json` (project and local sources) could
 *   otherwise add allow rules and hooks (observed with 2.1.330: a committed `Bash(echo:*)` allow and a
 *   `PreToolUse` hook both took effect).
 * A `Read` deny also stops `cat`/`head`/`tail` of that file through Bash; writes through shell
 * redirection need an `Edit` allow as well as the command allow.
 *
 * `yolo` allows every command, and a `Read` deny does not reach a file a subprocess opens (`sh -c 'cat
 * .env'`, `grep -r`). So `yolo` also turns on Claude Code's own sandbox for Bash (code.claude.com/docs/en/
 * sandboxing; keys from the settings schema `sandbox.{enabled, failIfUnavailable, allowUnsandboxedCommands,
 * autoAllowBashIfSandboxed, network.allowedDomains}`): every Bash command and its children run under
 * bubblewrap (Seatbelt on macOS), where the `Read`/`Edit` deny rules become OS-level denies (observed with
 * 2.1.330: `sh -c 'cat .env'` → "Permission denied"); `failIfUnavailable` makes Claude Code refuse to run
 * unsandboxed, `allowUnsandboxedCommands: false` removes the model's `dangerouslyDisableSandbox` escape, and
 * `autoAllowBashIfSandboxed: false` keeps the allow/deny rules in charge. Network from Bash goes through the
 * sandbox's proxy: every domain when the policy's network is on, none when it is off. On Linux the sandbox
 * needs `bwrap` and `socat` ({@link CLAUDE_SANDBOX_PROGRAMS}).
 */
import { join } from 'node:path';
import { guardFiles, type CommandGuard } from '../guard.js';
import type { Policy } from '../policy.js';
import type { RenderContext, RenderedConfig } from './types.js';

/** Claude Code `permissions` block. */
export interface ClaudePermissions {
  defaultMode: 'dontAsk';
  allow: string[];
  deny: string[];
}

/** Translate one policy glob to a Claude Code path specifier. */
export function claudePathSpec(glob: string): string {
  if (glob.startsWith('~/')) return glob;
  if (!glob.includes('/')) return glob; // bare name: matches at any depth (gitignore rule)
  return `./${glob}`;
}

/** Translate a command prefix to a Claude Code Bash rule. `*` becomes the bare tool name. */
export function claudeBashRule(prefix: string): string {
  return prefix === '*' ? 'Bash' : `Bash(${prefix}:*)`;
}

/**
 * Build the `permissions` block for a policy.
 * @returns allow/deny rule lists (deduplicated, in policy order) and the default mode
 */
export function claudePermissions(policy: Policy): ClaudePermissions {
  const allow = new Set<string>();
  const deny = new Set<string>();
  for (const r of policy.read) allow.add(r.value === '**' ? 'Read' : `Read(${claudePathSpec(r.value)})`);
  // `**` as a path rule: a bare `Edit` names only the Edit tool (a `Write` is then refused in dontAsk
  // mode, observed), while path rules cover every editing tool.
  for (const r of policy.write) allow.add(r.value === '**' ? 'Edit(./**)' : `Edit(${claudePathSpec(r.value)})`);
  for (const c of policy.commands.allow) {
    allow.add(claudeBashRule(c.value));
    if (c.value !== '*') allow.add(`Bash(${c.value})`);
  }
  for (const r of policy.deny) {
    deny.add(`Read(${claudePathSpec(r.value)})`);
    deny.add(`Edit(${claudePathSpec(r.value)})`);
  }
  for (const r of policy.protected) deny.add(`Edit(${claudePathSpec(r.value)})`);
  for (const c of policy.commands.deny) {
    deny.add(claudeBashRule(c.value));
    deny.add(`Bash(${c.value})`);
  }
  if (!policy.network.value) {
    deny.add('WebFetch');
    deny.add('WebSearch');
  } else if (policy.yolo) {
    allow.add('WebFetch');
    allow.add('WebSearch');
  }
  return { defaultMode: 'dontAsk', allow: [...allow], deny: [...deny] };
}

/** Programs Claude Code's sandbox needs on PATH on Linux (code.claude.com/docs/en/sandboxing, "Set up Linux and WSL2"). */
export const CLAUDE_SANDBOX_PROGRAMS = ['bwrap', 'socat'] as const;

/** Claude Code `sandbox` settings block. */
export interface ClaudeSandbox {
  enabled: true;
  failIfUnavailable: true;
  allowUnsandboxedCommands: false;
  autoAllowBashIfSandboxed: false;
  network: { allowedDomains: string[] };
}

/**
 * The `sandbox` block for a policy: present for `yolo` only (the other profiles allow a short list of
 * commands, which the permission rules decide exactly).
 * @returns the block, or undefined when the policy does not need it
 */
export function claudeSandbox(policy: Policy): ClaudeSandbox | undefined {
  // Inside agentctl's OS sandbox Claude Code's own cannot start (no nested namespaces); the outer one confines every command.
  if (!policy.yolo || policy.sandbox.value === 'os') return undefined;
  return {
    enabled: true,
    failIfUnavailable: true,
    allowUnsandboxedCommands: false,
    autoAllowBashIfSandboxed: false,
    network: { allowedDomains: policy.network.value ? ['*'] : [] },
  };
}

/**
 * Render the Claude Code configuration for one run. Pure.
 * @param guard how to start agentctl's command guard (required: a run without it would lose the command
 *   rules): the settings run it as a `PreToolUse` hook on `Bash` (Claude Code auto-allows commands it
 *   considers read-only, such as `echo`, whatever the rules say; observed with 2.1.330), and its rules
 *   file is written next to them ({@link guardFiles})
 * @returns the settings file (`<runDir>/claude/settings.json`), an empty user settings file in the tool's
 *   home (`<runDir>/claude/config/settings.json`: Claude Code reads `$CLAUDE_CONFIG_DIR/settings.json` as
 *   the `user` source, and merges its allow rules and hooks with the flag settings; as a generated file it
 *   is read-only in the OS sandbox and written again before each attempt, so code the agent ran cannot
 *   plant rules or hooks there for itself or a later attempt, which an attack session did) and the guard's
 *   rules file (`<runDir>/claude/agentctl-command-rules.json`); the `--settings`/`--setting-sources user`/
 *   `--permission-mode` args; and env: `CLAUDE_CONFIG_DIR` (per-run, `<runDir>/claude/config`) and the
 *   no-telemetry switches
 */
export function renderClaude(policy: Policy, ctx: RenderContext, guard: CommandGuard): RenderedConfig {
  const permissions = claudePermissions(policy);
  const settingsPath = join(ctx.runDir, 'claude', 'settings.json');
  const configDir = join(ctx.runDir, 'claude', 'config');
  const sandbox = claudeSandbox(policy);
  const guarded = guardFiles(policy, guard, join(ctx.runDir, 'claude'), { root: ctx.worktree });
  const settings = {
    permissions,
    ...(sandbox ? { sandbox } : {}),
    hooks: guarded.hooks,
    env: { DISABLE_AUTOUPDATER: '1', DISABLE_TELEMETRY: '1', DISABLE_ERROR_REPORTING: '1' },
  };
  return {
    tool: 'claude',
    files: [{ path: settingsPath, content: JSON.stringify(settings, null, 2) + '\n' }, ...guarded.files, { path: join(configDir, 'settings.json'), content: '{}\n' }],
    args: ['--settings', settingsPath, '--setting-sources', 'user', '--permission-mode', permissions.defaultMode],
    placeholders: [],
    env: {
      CLAUDE_CONFIG_DIR: configDir,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  };
}
