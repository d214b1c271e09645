import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_FILES, composePolicy } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import { claudePermissions, claudeSandbox, renderClaude } from '../../src/authz/render/claude.js';
import { codexHiddenPaths, codexPermissions, renderCodex } from '../../src/authz/render/codex.js';
import { guardDecision, guardDenyJson, guardFailure, guardFiles, guardHooks, guardRules, sha256Hex } from '../../src/authz/guard.js';
import { hasGlob } from '../../src/authz/check.js';
import { gitConfigHoldsCredentials, hasSrtGlob, NETWORK_ON_HOSTS, osSandboxSettings, toolchainFolders } from '../../src/authz/render/os.js';
import { claudeAdapter } from '../../src/adapters/claude.js';
import { commandAdapter } from '../../src/adapters/command.js';
import { plainHttpApi } from '../../src/adapters/types.js';
import { injectedHeaders, parseKeyInjection } from '../../src/authz/credentials.js';
import { commandMentionPattern, filePathPattern, geminiApprovalMode, geminiRules, isSafeGeminiRegex, renderGemini } from '../../src/authz/render/gemini.js';
import { ROOT } from '../helpers.js';

const profiles = new Map<string, Profile>();
for (const f of readdirSync(join(ROOT, 'profiles'))) {
  const name = f.replace('.yaml', '');
  profiles.set(name, parseProfile(name, f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
}
const ctx = { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' };
const policyOf = (names: string[], paths: string[] = []) => composePolicy({ id: 't', file: 't.md', profiles: names, paths, autonomy: 'review' }, profiles, ctx);
const rctx = { worktree: '/home/u/.local/share/agentctl/worktrees/p/t-1', runDir: '/home/u/.local/share/agentctl/runs/1', homeDir: '/home/u' };
/** A fake command guard: the renderers only write its paths into the hook command. */
const guard = { node: '/usr/bin/node', script: '/opt/agentctl/dist/hooks/command-guard.js' };

describe('Claude Code renderer', () => {
  it('uses dontAsk, cwd-relative Edit allows, and Read+Edit denies for secrets', () => {
    const p = claudePermissions(policyOf(['implement']));
    expect(p.defaultMode).toBe('dontAsk');
    expect(p.allow).toContain('Edit(./src/**)');
    expect(p.allow).toContain('Bash(npm test:*)');
    expect(p.deny).toEqual(expect.arrayContaining(['Read(.env)', 'Edit(.env)', 'Read(~/.ssh/**)', 'Edit(./tasks/**)', 'Edit(./.claude/**)', 'Bash(git push:*)', 'WebFetch']));
    // `/path` would be anchored at the settings file's folder (outside the worktree): never emitted.
    expect([...p.allow, ...p.deny].some((r) => /\(\/[^/]/.test(r))).toBe(false);
  });

  it('never emits bypassPermissions (refused as root): yolo is dontAsk with broad allows', () => {
    for (const names of [['research'], ['implement'], ['careful'], ['yolo']]) {
      const r = renderClaude(policyOf(names, ['src/**']), rctx, guard);
      expect(r.files[0]!.content).not.toContain('bypassPermissions');
      expect(r.args).not.toContain('bypassPermissions');
      expect(r.args.slice(-2)).toEqual(['--permission-mode', 'dontAsk']);
    }
    const yolo = claudePermissions(policyOf(['yolo']));
    expect(yolo.allow).toEqual(expect.arrayContaining(['Read', 'Edit(./**)', 'Bash', 'WebFetch', 'WebSearch']));
    expect(yolo.deny).toEqual(expect.arrayContaining(['Read(.env)', 'Edit(./.claude/**)', 'Bash(git push:*)']));
  });

  it('turns on Claude Code\'s own sandbox for yolo without the OS sandbox only, failing closed and without the unsandboxed escape', () => {
    for (const name of ['research', 'implement', 'careful']) expect(claudeSandbox(policyOf([name], ['src/**'])), name).toBeUndefined();
    // Inside agentctl's OS sandbox (the default) Claude Code's own cannot start, and the outer one confines every command.
    expect(claudeSandbox(policyOf(['yolo']))).toBeUndefined();
    const unboxed = (p: ReturnType<typeof policyOf>) => ({ ...p, sandbox: { value: 'none' as const, source: 'test' } });
    const sb = claudeSandbox(unboxed(policyOf(['yolo'])));
    expect(sb).toEqual({ enabled: true, failIfUnavailable: true, allowUnsandboxedCommands: false, autoAllowBashIfSandboxed: false, network: { allowedDomains: ['*'] } });
    const settings = JSON.parse(renderClaude(unboxed(policyOf(['yolo'])), rctx, guard).files[0]!.content) as { sandbox?: unknown };
    expect(settings.sandbox).toEqual(sb);
    const offline = JSON.parse(renderClaude(policyOf(['implement']), rctx, guard).files[0]!.content) as { sandbox?: unknown };
    expect(offline.sandbox).toBeUndefined();
  });

  it('puts generated files and the config dir outside the worktree', () => {
    const r = renderClaude(policyOf(['implement']), rctx, guard);
    expect(r.files.every((f) => !f.path.startsWith(rctx.worktree))).toBe(true);
    expect(r.env.CLAUDE_CONFIG_DIR).toBe(`${rctx.runDir}/claude/config`);
    expect(r.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
    // The `user` source is a generated (read-only) empty file, never one the agent's code wrote.
    expect(r.files.find((f) => f.path === `${rctx.runDir}/claude/config/settings.json`)?.content).toBe('{}\n');
  });

  it('loads no project or local settings from the worktree, and runs the command guard as a PreToolUse hook on Bash', () => {
    const r = renderClaude(policyOf(['implement']), rctx, guard);
    expect(r.args).toEqual(['--settings', `${rctx.runDir}/claude/settings.json`, '--setting-sources', 'user', '--permission-mode', 'dontAsk']);
    const settings = JSON.parse(r.files[0]!.content) as { hooks: Record<string, unknown> };
    const rulesPath = `${rctx.runDir}/claude/agentctl-command-rules.json`;
    const rulesText = JSON.stringify(guardRules(policyOf(['implement']), rctx.worktree), null, 2) + '\n';
    expect(settings.hooks).toEqual(guardHooks(guard, rulesPath, sha256Hex(rulesText)));
    expect((settings.hooks.PreToolUse as { matcher: string }[])[0]!.matcher).toBe('Bash'); // Claude's file tools keep their own path rules
    expect(r.files[1]).toEqual({ path: rulesPath, content: rulesText });
    expect(r.files).toHaveLength(3);
  });
});

describe('Gemini CLI renderer', () => {
  it('emits only patterns the tool would load (its own ReDoS test)', () => {
    for (const names of [['research'], ['implement'], ['yolo']]) {
      for (const rule of geminiRules(policyOf(names), rctx)) if (rule.argsPattern) expect(isSafeGeminiRegex(rule.argsPattern), rule.argsPattern).toBe(true);
    }
    expect(isSafeGeminiRegex('(a+)+')).toBe(false);
  });

  it('file patterns match relative and absolute paths inside the glob only', () => {
    const re = new RegExp(filePathPattern('src/**', rctx.worktree));
    expect(re.test('"file_path":"src/a/b.ts"')).toBe(true);
    expect(re.test('"file_path":"./src/a.ts"')).toBe(true);
    expect(re.test(`"file_path":"${rctx.worktree}/src/a.ts"`)).toBe(true);
    expect(re.test('"file_path":"lib/a.ts"')).toBe(false);
    expect(re.test('"file_path":"/etc/src/a.ts"')).toBe(false);
    const env = new RegExp(filePathPattern('.env', rctx.worktree));
    expect(env.test('"file_path":"config/.env"')).toBe(true);
    expect(env.test('"file_path":".envrc"')).toBe(false);
  });

  it('denies shell commands that name a denied or protected path, with loadable patterns', () => {
    const rules = geminiRules(policyOf(['implement']), rctx).filter((r) => r.commandRegex);
    const denies = (command: string) => rules.some((r) => new RegExp(`"command":"${r.commandRegex}`).test(JSON.stringify({ command })));
    for (const r of rules) expect(isSafeGeminiRegex(r.commandRegex!), r.commandRegex).toBe(true);
    expect(denies('cat .env')).toBe(true);
    expect(denies("sh -c 'cat config/.env'")).toBe(true);
    expect(denies('echo x > .gemini/settings.json')).toBe(true);
    expect(denies('cat .envrc')).toBe(false);
    expect(denies('npm test')).toBe(false);
    expect(denies('git status')).toBe(false);
    expect(commandMentionPattern('~/.ssh/**')).toBeUndefined();
  });

  it('writes a policy TOML that parses, a low catch-all deny and settings that turn telemetry off', () => {
    const r = renderGemini(policyOf(['implement']), rctx);
    const toml = parseToml(r.files[0]!.content) as { rule: { toolName: unknown; decision: string; priority: number }[] };
    expect(toml.rule.length).toBeGreaterThan(3);
    expect(toml.rule.at(-1)).toMatchObject({ decision: 'deny', priority: 10 });
    const settings = JSON.parse(r.files[1]!.content);
    expect(settings.privacy.usageStatisticsEnabled).toBe(false);
    expect(settings.general.enableAutoUpdate).toBe(false);
    expect(r.args).toEqual(['--approval-mode', 'auto_edit', '--policy', `${rctx.runDir}/gemini/policy.toml`]);
    // The worktree is an untrusted workspace (its .gemini/settings.json and .env are not loaded), and
    // with folder trust off Gemini CLI still runs headless there.
    expect(r.env.GEMINI_CLI_TRUST_WORKSPACE).toBe('false');
    expect(settings.security.folderTrust).toEqual({ enabled: false });
    expect(geminiApprovalMode(policyOf(['research']))).toBe('default');
  });
});

/** A policy whose profiles say `sandbox: none`: Codex's own sandbox is then the only one. */
const unboxed = (names: string[], paths: string[] = []) => ({ ...policyOf(names, paths), sandbox: { value: 'none' as const, source: 'test' } });

describe('Codex renderer', () => {
  it('inside the OS sandbox (the default) runs Codex without a sandbox of its own, keeping approval never and the command guard', () => {
    // srt forbids the nested user namespace Codex's bubblewrap needs: any other permission profile stops Codex.
    for (const names of [['research'], ['implement'], ['careful'], ['yolo']]) {
      const r = renderCodex(policyOf(names, ['src/**']), rctx, guard);
      const cfg = parseToml(r.files[0]!.content) as Record<string, any>;
      expect(cfg.default_permissions, names.join()).toBe(':danger-full-access');
      expect(cfg.permissions).toBeUndefined();
      expect(cfg.approval_policy).toBe('never');
      expect(r.files.some((f) => f.path.endsWith('/hooks.json'))).toBe(true);
      expect(r.placeholders).toEqual([]);
      // Commands keep srt's proxy variables (their only way out); secrets stay excluded.
      expect(cfg.shell_environment_policy.inherit).toBe('all');
      expect(cfg.shell_environment_policy.exclude).toEqual(expect.arrayContaining(['*TOKEN*', '*KEY*', '*SECRET*']));
    }
    expect((parseToml(renderCodex(unboxed(['implement']), rctx, guard).files[0]!.content) as Record<string, any>).shell_environment_policy.inherit).toBe('core');
  });

  it('with sandbox: none writes a permission profile, approval never, and never sandbox_mode', () => {
    const r = renderCodex(unboxed(['implement']), rctx, guard);
    const text = r.files[0]!.content;
    expect(text).not.toMatch(/sandbox_mode/);
    const cfg = parseToml(text) as Record<string, any>;
    expect(cfg.approval_policy).toBe('never');
    expect(cfg.default_permissions).toBe('agentctl');
    expect(cfg.permissions.agentctl.network.enabled).toBe(false);
    const ws = cfg.permissions.agentctl.filesystem[':workspace_roots'];
    expect(ws.src).toBe('write');
    expect(ws['**/.env']).toBe('deny');
    expect(ws.tasks).toBe('deny');
    expect(cfg.permissions.agentctl.filesystem['~/.ssh']).toBe('deny');
    expect(r.env.CODEX_HOME).toBe(`${rctx.runDir}/codex/home`);
    // Never trusts the worktree: the repository's own .codex/ layer must stay ignored.
    expect(cfg.projects).toBeUndefined();
  });

  it('never emits a read/write glob key (Codex refuses the whole config) nor a .git glob', () => {
    for (const names of [['research'], ['implement'], ['careful'], ['yolo']]) {
      const perms = codexPermissions(policyOf(names, ['src/**'])).permissions as { filesystem: Record<string, Record<string, string>> };
      for (const [key, access] of Object.entries(perms.filesystem[':workspace_roots']!)) {
        if (/[*?[\]]/.test(key)) expect(access, key).toBe('deny');
      }
      expect(perms.filesystem[':workspace_roots']!['.agentctl']).not.toBe('deny'); // never a whole-folder deny: the protocol files live there
    }
  });

  it('grants write on folders only: the protocol files become the .agentctl folder, a file grant is left out (issue 9, finding 12)', () => {
    // Codex mounts its own guards (.git, .codex, …) inside every writable root: a writable file makes bwrap
    // fail ("Can't mkdir parents for …/.agentctl/escalate.json/.git: Not a directory").
    const kind = (p: string) => (p === '.agentctl' || p === 'src' ? 'dir' : p === 'src/index.ts' || p === '.agentctl/PROTOCOL.md' ? 'file' : undefined);
    for (const names of [['research'], ['implement'], ['careful']]) {
      const ws = (codexPermissions(policyOf(names, ['src/index.ts']), { kind }).permissions as { filesystem: Record<string, Record<string, string>> }).filesystem[':workspace_roots']!;
      expect(ws['.agentctl'], names.join()).toBe('write');
      for (const f of PROTOCOL_FILES) expect(ws[f], f).toBeUndefined();
      expect(ws['.agentctl/PROTOCOL.md']).toBe('deny');
      expect(ws['.agentctl/profiles']).toBe('deny');
      expect(ws['src/index.ts']).toBeUndefined(); // careful's exact file path: a file, never a writable root
    }
    // Without the folder there is nothing Codex could mount: no grant.
    const missing = codexPermissions(policyOf(['research']), { kind: () => undefined }).permissions as { filesystem: Record<string, Record<string, string>> };
    expect(missing.filesystem[':workspace_roots']!['.agentctl']).toBeUndefined();
  });

  it('lists protected paths missing below the writable .agentctl folder as placeholders', () => {
    const { placeholders } = codexPermissions(policyOf(['research']), { kind: (p) => (p === '.agentctl' ? 'dir' : p === '.agentctl/PROTOCOL.md' ? 'file' : undefined) });
    expect(placeholders).toEqual(['.agentctl/profiles']);
  });

  it('hides the main checkout but its .git, and agentctl home but this run, from commands', () => {
    const tree: Record<string, string[]> = {
      '/src/app': ['.git', '.env', 'src', 'package.json', 'node_modules'],
      '/home/u/.local/share/agentctl': ['agentctl.db', 'agentctl.db-wal', 'keys', 'runs', 'worktrees'],
      '/home/u/.local/share/agentctl/runs': ['1', '2'],
      '/home/u/.local/share/agentctl/worktrees': ['p'],
      '/home/u/.local/share/agentctl/worktrees/p': ['t-1', 't-2'],
    };
    const list = (d: string) => tree[d];
    const home = '/home/u/.local/share/agentctl';
    expect(codexHiddenPaths(home, [rctx.worktree, rctx.runDir], list)).toEqual([`${home}/agentctl.db`, `${home}/agentctl.db-wal`, `${home}/keys`, `${home}/runs/2`, `${home}/worktrees/p/t-2`]);
    const r = renderCodex(unboxed(['implement']), rctx, guard, { list, hide: [{ root: '/src/app', except: ['/src/app/.git'] }, { root: home, except: [] }] });
    const fs = (parseToml(r.files[0]!.content) as Record<string, any>).permissions.agentctl.filesystem;
    for (const p of ['/src/app/.env', '/src/app/src', '/src/app/package.json', '/src/app/node_modules', `${home}/agentctl.db`, `${home}/runs/2`, `${home}/worktrees/p/t-2`]) expect(fs[p], p).toBe('deny');
    for (const p of ['/src/app/.git', '/src/app', home, rctx.worktree, rctx.runDir]) expect(fs[p], p).toBeUndefined();
    // A hidden folder that holds the run itself is walked, never denied whole.
    expect(codexHiddenPaths('/home/u', [rctx.worktree], (d) => (d === '/home/u' ? ['.local', '.ssh'] : d === '/home/u/.local' ? ['share'] : undefined))).toEqual(['/home/u/.ssh']);
  });

  it('under a writable root (yolo) keeps exact deny entries for missing paths, lists them as placeholders, and leaves .codex to Codex', () => {
    const { permissions, placeholders } = codexPermissions(policyOf(['yolo']), { kind: (p) => (p === 'tasks' ? 'dir' : p === '.git' ? 'file' : undefined) });
    const ws = (permissions as { filesystem: Record<string, Record<string, string>> }).filesystem[':workspace_roots']!;
    expect(ws['.']).toBe('write');
    expect(ws.tasks).toBe('deny');
    expect(ws['.claude']).toBe('deny');
    expect(ws['.mcp.json']).toBe('deny'); // a bare name also gets its exact root entry (globs only match files present at start)
    expect(ws['**/.mcp.json']).toBe('deny');
    expect(ws['.codex']).toBeUndefined();
    expect(ws['**/.env']).toBe('deny');
    expect(ws['.git']).toBe('read');
    expect(placeholders).toContain('.claude');
    expect(placeholders).toContain('.mcp.json');
    expect(placeholders).not.toContain('tasks'); // exists
    expect(placeholders.some((p) => /[*?]/.test(p))).toBe(false);
    expect(placeholders).not.toContain('.git');
    // The protocol folder is missing here: entries below it would make bwrap fail, so they are left out.
    expect(ws['.agentctl/profiles']).toBeUndefined();
    expect(ws['.agentctl/status.jsonl']).toBeUndefined(); // a write entry under a writable root adds nothing
    const withFolder = codexPermissions(policyOf(['yolo']), { kind: (p) => (p === '.agentctl' ? 'dir' : undefined) });
    expect((withFolder.permissions as { filesystem: Record<string, Record<string, string>> }).filesystem[':workspace_roots']!['.agentctl/profiles']).toBe('deny');
    expect(withFolder.placeholders).toContain('.agentctl/profiles');
  });

  it('writes hooks.json running the command guard before every shell command and file edit, its rules, and bypasses hook trust', () => {
    const quoted = { node: '/usr/bin/node', script: "/opt/agent's ctl/dist/hooks/command-guard.js" };
    const r = renderCodex(policyOf(['research']), rctx, quoted);
    const hooks = r.files.find((f) => f.path.endsWith('/hooks.json'));
    const rules = r.files.find((f) => f.path.endsWith('/agentctl-command-rules.json'));
    expect(hooks?.path).toBe(`${rctx.runDir}/codex/home/hooks.json`);
    const parsed = JSON.parse(hooks!.content) as { hooks: { PreToolUse: { matcher: string; hooks: { type: string; command: string }[] }[] } };
    expect(parsed.hooks.PreToolUse[0]!.matcher).toBe('Bash|apply_patch');
    // Shell-quoted, including a quote inside a path.
    expect(parsed.hooks.PreToolUse[0]!.hooks[0]!.command).toBe(`'/usr/bin/node' '/opt/agent'\\''s ctl/dist/hooks/command-guard.js' '${rules!.path}' '${sha256Hex(rules!.content)}'`);
    expect(JSON.parse(rules!.content)).toEqual(JSON.parse(JSON.stringify(guardRules(policyOf(['research']), rctx.worktree))));
    expect(parsed).toEqual({ hooks: guardHooks(quoted, rules!.path, sha256Hex(rules!.content), 'Bash|apply_patch') });
    expect(r.args).toEqual(['--dangerously-bypass-hook-trust']);
  });

  it('lists no placeholders where nothing is writable', () => {
    expect(codexPermissions(policyOf(['research']), { kind: () => undefined }).placeholders).toEqual([]);
  });

  it('research writes nothing but the agent protocol folder', () => {
    const perms = codexPermissions(policyOf(['research'])).permissions as { filesystem: Record<string, Record<string, string>> };
    const writes = Object.entries(perms.filesystem[':workspace_roots']!).filter(([, a]) => a === 'write').map(([k]) => k);
    expect(writes).toEqual(['.agentctl']);
  });
});

describe('command guard (the hook Codex runs before each shell command)', () => {
  const rules = guardRules(policyOf(['research']), '/w');
  const call = (command: unknown) => ({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command } });

  it('allows what the policy allows, denies the rest with a reason naming the rule', () => {
    expect(guardDecision(rules, call('git status --short'))).toEqual({ allow: true });
    const denied = guardDecision(rules, call('npm test'));
    expect(denied.allow).toBe(false);
    if (denied.allow) return;
    expect(denied.reason).toContain('not in the allowed list');
    expect(denied.failed).toBeUndefined();
    expect(guardDenyJson(denied.reason)).toEqual({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: denied.reason } });
    const pushed = guardDecision(guardRules(policyOf(['yolo']), '/w'), call('git push origin main'));
    expect(pushed.allow).toBe(false);
    if (!pushed.allow) expect(pushed.reason).toContain('"git push"');
  });

  it('leaves calls without a shell command or a patch to the tool', () => {
    expect(guardDecision(rules, { tool_name: 'Read', tool_input: { file_path: '/w/a' } })).toEqual({ allow: true });
    expect(guardDecision(rules, null)).toEqual({ allow: true });
  });

  it("holds every file a Codex apply_patch touches to the write scope (the patch in tool_input.command, openai/codex #18391)", () => {
    const implement = guardRules(policyOf(['implement']), '/w');
    const patch = (...headers: string[]) => ({ hook_event_name: 'PreToolUse', tool_name: 'apply_patch', tool_input: { command: ['*** Begin Patch', ...headers, '+x', '*** End Patch', ''].join('\n') }, cwd: '/w' });
    expect(guardDecision(implement, patch('*** Add File: src/a.ts'))).toEqual({ allow: true });
    expect(guardDecision(implement, patch('*** Update File: /w/docs/b.md', '@@', '-a', '+b'))).toEqual({ allow: true });
    const denied = (input: unknown) => {
      const d = guardDecision(implement, input);
      return d.allow ? undefined : d.reason;
    };
    expect(denied(patch('*** Add File: src/a.ts', '*** Add File: build.sh'))).toMatch(/^agentctl policy: apply_patch may not write build\.sh: not in the write scope \(src\/\*\*/);
    expect(denied(patch('*** Update File: src/a.ts', '*** Move to: Makefile'))).toMatch(/may not write Makefile/);
    expect(denied(patch('*** Delete File: .env'))).toMatch(/may not write \.env: deny rule "\.env"/);
    expect(denied(patch('*** Add File: .agentctl/profiles/loose.yaml'))).toMatch(/protected rule/);
    expect(denied(patch('*** Add File: ../../etc/cron.d/x'))).toMatch(/"\.\.\/\.\.\/etc\/cron\.d\/x": outside the worktree/);
    expect(denied(patch('*** Add File: /home/dev/.bashrc'))).toMatch(/outside the worktree/);
    expect(denied(patch('*** Add File: src/../../x'))).toMatch(/outside the worktree/);
    // A relative path resolves against the tool's cwd when that is inside the worktree.
    expect(denied({ ...patch('*** Add File: a.ts'), cwd: '/w/src' })).toBeUndefined();
    expect(denied({ ...patch('*** Add File: a.ts'), cwd: '/elsewhere' })).toMatch(/may not write a\.ts/);
    // Fail closed: no patch text, or no file in it.
    expect(denied({ tool_name: 'apply_patch', tool_input: {} })).toMatch(/without a patch text/);
    expect(denied({ tool_name: 'apply_patch', tool_input: { command: '*** Begin Patch\n*** End Patch\n' } })).toMatch(/no file found/);
    // research writes nothing (but the protocol folder).
    expect(guardDecision(rules, patch('*** Add File: docs/x.md')).allow).toBe(false);
  });

  it('fails closed with a flagged deny when it cannot decide', () => {
    expect(guardFailure('bad rules')).toEqual({ allow: false, failed: true, reason: 'agentctl command guard failed closed: bad rules' });
  });

  it('guardFiles: the hooks block and the rules file in the given folder', () => {
    const g = guardFiles(policyOf(['research']), guard, '/run/x', { root: '/w' });
    const rulesText = JSON.stringify(guardRules(policyOf(['research']), '/w'), null, 2) + '\n';
    expect(g.hooks).toEqual(guardHooks(guard, '/run/x/agentctl-command-rules.json', sha256Hex(rulesText)));
    expect(g.files).toEqual([{ path: '/run/x/agentctl-command-rules.json', content: rulesText }]);
  });
});

describe('hasGlob', () => {
  it('sees braces, stars and globstars, not plain paths', () => {
    for (const g of ['src/{a,b}.ts', '*.md', 'src/**', '**/.env', 'a?b', '[ab]']) expect(hasGlob(g), g).toBe(true);
    for (const g of ['src/a.ts', '.mcp.json', '.env', 'tasks', '.agentctl/profiles', '~/.ssh']) expect(hasGlob(g), g).toBe(false);
  });
});

describe('OS sandbox reads: an allow list', () => {
  it('toolchainFolders: a bin, sbin or shims folder grants its prefix (not the home folder nor a folder below /), any other folder itself; normalised first; nothing at or above home, in system or hidden folders', () => {
    const path = [
      '/home/u/.cargo/bin', '/home/u/.local/share/claude/versions', '/home/u/.pyenv/shims', '/home/u/.pyenv/bin', '/home/u/.local/bin',
      '/home/u/.nvm/versions/node/v20/bin', '/home/u/projects/tool/bin', '/home/u/bin', '/home/u', '/home', '/usr/local/bin', '/bin',
      'node_modules/.bin', '', '/work/repo/node_modules/.bin', '/work', '/work/bin', '/opt/x/bin', '/srv/tools/bin/', '/home/u/../etc',
      '/home/u//bin', '/home/u/./bin', '/home/u/.config//x', '//', '/home/u/.', '/./home/u/.fly/bin',
    ];
    expect(toolchainFolders(path, '/home/u', ['/work/repo', '/home/u/.local/share/agentctl'])).toEqual([
      '/home/u/.cargo', '/home/u/.rustup', '/home/u/.local/share/claude/versions', '/home/u/.pyenv', '/home/u/.local/bin',
      '/home/u/.nvm/versions/node/v20', '/home/u/projects/tool', '/home/u/bin', '/work/bin', '/srv/tools', '/home/u/.config/x', '/home/u/.fly',
    ]);
  });

  it('osSandboxSettings: every folder is hidden but the system\'s, the toolchains and the run\'s; system secrets and home tokens stay hidden inside them', () => {
    const layout = { worktree: '/h/wt', repoRoot: '/repo', commonGitDir: '/repo/.git', agentctlHome: '/h', runDir: '/h/runs/r', writable: ['/tmp/r/t'], readOnlyFiles: [], tempRoot: '/tmp/r', homeDir: '/home/u', toolchains: ['/home/u/.cargo'] };
    const s = osSandboxSettings(policyOf(['implement']), layout, []);
    expect(s.filesystem.denyRead[0]).toBe('/');
    expect(s.filesystem.denyRead).toEqual(expect.arrayContaining(['/etc/shadow', '/etc/ssh', '/home/u/.cargo/credentials.toml', '/repo', '/h']));
    expect(s.filesystem.allowRead).toEqual(expect.arrayContaining(['/usr', '/etc', '/home/u/.cargo', '/h/wt', '/repo/.git/objects', '/repo/.git/refs', '/repo/.git/config']));
    expect(s.filesystem.allowRead).not.toContain('/home/u');
    expect(s.filesystem.allowRead).not.toContain('/System');
    expect(osSandboxSettings(policyOf(['implement']), { ...layout, platform: 'darwin' }, []).filesystem.allowRead).toEqual(expect.arrayContaining(['/System', '/Library', '/private/etc']));
    // The common .git only in the parts git needs: a credential store file there stays hidden.
    expect(s.filesystem.allowRead).not.toContain('/repo/.git');
    expect(s.filesystem.denyRead).toContain('/home/u/.cargo/etc/npmrc');
    // A path of the layout that srt would read as a pattern goes as a name (marked literal), never as that pattern.
    const odd = osSandboxSettings(policyOf(['implement']), { ...layout, worktree: '/h/[t]/wt', repoRoot: '/r*', commonGitDir: '/r*/.git', readable: ['/repo/**'], toolchains: ['/home/u/[x]'] }, []).filesystem;
    expect(odd.allowRead).toEqual(expect.arrayContaining([{ path: '/repo/**', literal: true }, { path: '/home/u/[x]', literal: true }, { path: '/h/[t]/wt', literal: true }, { path: '/r*/.git/objects', literal: true }]));
    expect(odd.allowWrite).toContainEqual({ path: '/h/[t]/wt', literal: true });
    expect(odd.denyRead).toEqual(expect.arrayContaining([{ path: '/r*', literal: true }, { path: '/home/u/[x]/etc/npmrc', literal: true }]));
    expect(odd.denyWrite).toEqual(expect.arrayContaining([{ path: '/h/[t]/wt/.git', literal: true }, { path: '/h/[t]/wt/.env', literal: true }]));
    expect([...odd.allowRead, ...odd.allowWrite].filter((p) => typeof p === 'string' && hasSrtGlob(p))).toEqual([]);
  });

  it('osSandboxSettings: with stand-ins for the API keys, TLS is terminated for the API host alone (its port only), Host must match, plain-HTTP header sets only for an http base URL', () => {
    const layout = { worktree: '/h/wt', repoRoot: '/repo', commonGitDir: '/repo/.git', agentctlHome: '/h', runDir: '/h/runs/r', writable: [], readOnlyFiles: [], homeDir: '/home/u' };
    const api = ['api.anthropic.com:443'];
    const off = osSandboxSettings(policyOf(['implement']), layout, api, { plaintext: false });
    expect(off.network).toEqual({ allowedDomains: api, deniedDomains: [], tlsTerminate: { excludeDomains: [] }, requireHostMatch: true });
    // Network on: every other host stays an opaque tunnel, never terminated.
    const on = osSandboxSettings(policyOf(['yolo']), layout, api, { plaintext: false });
    expect(on.network.tlsTerminate!.excludeDomains).toEqual([...NETWORK_ON_HOSTS]);
    expect(on.network.allowedDomains).toEqual([...api, ...NETWORK_ON_HOSTS]);
    // An API host that a network-on pattern covers is terminated (left out of the exclusions).
    expect(osSandboxSettings(policyOf(['yolo']), layout, ['api.github.com:443'], { plaintext: false }).network.tlsTerminate!.excludeDomains).not.toContain('*.github.com');
    expect(osSandboxSettings(policyOf(['implement']), layout, ['127.0.0.2:8080'], { plaintext: true }).network.allowPlaintextHeaderSet).toBe(true);
    const none = osSandboxSettings(policyOf(['implement']), layout, api);
    expect(none.network).toEqual({ allowedDomains: api, deniedDomains: [] });
  });

  it('hostsOf: the API as host:port, a base URL\'s port or its scheme\'s; plainHttpApi: an http base URL', () => {
    expect(claudeAdapter.apiHosts({})).toEqual(['api.anthropic.com:443']);
    expect(claudeAdapter.apiHosts({ ANTHROPIC_BASE_URL: 'https://GW.example.com/v1' })).toEqual(['gw.example.com:443']);
    expect(claudeAdapter.apiHosts({ ANTHROPIC_BASE_URL: 'http://10.0.0.5/' })).toEqual(['10.0.0.5:80']);
    expect(claudeAdapter.apiHosts({ ANTHROPIC_BASE_URL: 'https://127.0.0.2:9443' })).toEqual(['127.0.0.2:9443']);
    expect(plainHttpApi(claudeAdapter, { ANTHROPIC_BASE_URL: 'HTTP://10.0.0.5:8080' })).toBe(true);
    expect(plainHttpApi(claudeAdapter, { ANTHROPIC_BASE_URL: 'https://gw.example' })).toBe(false);
    expect(plainHttpApi(commandAdapter, { ANTHROPIC_BASE_URL: 'http://x' })).toBe(false);
  });

  it('injectedHeaders: the real key goes in the key header of a request to the API\'s host:port only, replacing a whole stand-in; nothing else is rewritten', () => {
    const injection = { hosts: ['api.anthropic.com:443'], keys: [{ standIn: 'agentctl-stand-in-aaaa', value: 'sk-real-1' }, { standIn: 'agentctl-stand-in-bbbb', value: 'tok-real-2' }] };
    const h = (o: Record<string, string>) => new Headers(o);
    const api = { host: 'api.anthropic.com', port: 443 };
    expect(injectedHeaders(injection, api, h({ 'x-api-key': 'agentctl-stand-in-aaaa' }))).toEqual([['x-api-key', 'sk-real-1']]);
    expect(injectedHeaders(injection, api, h({ Authorization: 'Bearer agentctl-stand-in-bbbb' }))).toEqual([['authorization', 'Bearer tok-real-2']]);
    expect(injectedHeaders(injection, api, h({ 'x-goog-api-key': 'agentctl-stand-in-aaaa' }))).toEqual([['x-goog-api-key', 'sk-real-1']]);
    // Another port on the same host, another host, no target: nothing.
    expect(injectedHeaders(injection, { host: 'api.anthropic.com', port: 8443 }, h({ 'x-api-key': 'agentctl-stand-in-aaaa' }))).toEqual([]);
    expect(injectedHeaders(injection, { host: 'evil.example', port: 443 }, h({ 'x-api-key': 'agentctl-stand-in-aaaa' }))).toEqual([]);
    expect(injectedHeaders(injection, undefined, h({ 'x-api-key': 'agentctl-stand-in-aaaa' }))).toEqual([]);
    // The stand-in anywhere else (another header, inside a value, twice, without Bearer): never replaced.
    expect(injectedHeaders(injection, api, h({ 'anthropic-beta': 'agentctl-stand-in-aaaa', 'x-api-key': 'x agentctl-stand-in-aaaa' }))).toEqual([]);
    expect(injectedHeaders(injection, api, new Headers([['x-api-key', 'agentctl-stand-in-aaaa'], ['x-api-key', 'agentctl-stand-in-aaaa']]))).toEqual([]);
    expect(injectedHeaders(injection, api, h({ authorization: 'agentctl-stand-in-aaaa' }))).toEqual([]);
    expect(() => parseKeyInjection('{"hosts":["a:443"],"keys":[{"standIn":"short","value":"v"}]}')).toThrow(/AGENTCTL_SANDBOX_KEYS/);
    expect(parseKeyInjection(JSON.stringify(injection))).toEqual(injection);
  });

  it('osSandboxSettings: a write deny at any depth (srt skips glob write denies on Linux) also names the worktree root\'s file', () => {
    const layout = { worktree: '/h/wt', repoRoot: '/repo', commonGitDir: '/repo/.git', agentctlHome: '/h', runDir: '/h/runs/r', writable: [], readOnlyFiles: [], homeDir: '/home/u' };
    const deny = osSandboxSettings(policyOf(['implement']), layout, []).filesystem.denyWrite;
    // Denied (.env) and protected (AGENTS.md, CLAUDE.md) names at the root, as literals srt honours.
    expect(deny).toEqual(expect.arrayContaining(['/h/wt/**/.env', '/h/wt/.env', '/h/wt/**/AGENTS.md', '/h/wt/AGENTS.md', '/h/wt/CLAUDE.md', '/h/wt/.agentrc.yaml']));
    // A name that is a pattern itself (`*.pem`) gets no literal: srt would read it as a glob.
    expect(deny).toContain('/h/wt/**/*.pem');
    expect(deny).not.toContain('/h/wt/*.pem');
  });
});

describe('gitConfigHoldsCredentials', () => {
  it('a URL with a password or token, an extraheader, a password or token key; not a plain, ssh or scp-style remote', () => {
    const holds = (text: string) => gitConfigHoldsCredentials(text);
    expect(holds('[remote "origin"]\n\turl = https://x-access-token:ghp_abc@github.com/o/r.git\n')).toBe(true);
    expect(holds('[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic eA==\n')).toBe(true);
    expect(holds('[http]\n\textraHeader = Authorization: Bearer x\n')).toBe(true);
    expect(holds('[sendemail]\n\tpassword = hunter2\n')).toBe(true);
    expect(holds('[remote "origin"]\n\turl = https://ghp_userOnlyToken@github.com/o/r.git\n')).toBe(true);
    expect(holds('[url "https://ghp_tok@github.com/"]\n\tinsteadOf = https://github.com/\n')).toBe(true);
    expect(holds('[sendemail]\n\tsmtpPass = hunter2\n')).toBe(true);
    expect(holds('[http]\n\tcookieFile = /tmp/c\n')).toBe(true);
    expect(holds('[credential]\n\thelper = "!f() { echo password=x; }; f"\n')).toBe(true);
    expect(holds('[credential]\n\thelper = !f() { echo password=x; }; f\n')).toBe(true);
    expect(holds('[credential "https://source.developers.google.com"]\n\thelper = gcloud.sh\n')).toBe(false);
    expect(holds('[remote "origin"]\n\turl = https://github.com/o/r.git\n')).toBe(false);
    expect(holds('[remote "origin"]\n\turl = git@github.com:o/r.git\n\tpushurl = ssh://git@github.com/o/r.git\n')).toBe(false);
    expect(holds('[core]\n\trepositoryformatversion = 0\n')).toBe(false);
  });
});
