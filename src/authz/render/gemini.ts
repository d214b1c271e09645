/**
 * Gemini CLI renderer: policy → a policy TOML passed with `--policy <file>`, an approval mode, and a
 * per-run `GEMINI_CLI_HOME` whose `.gemini/settings.json` turns usage statistics, telemetry and
 * auto-update off.
 *
 * Source: google-gemini/gemini-cli `docs/reference/policy-engine.md` and
 * `packages/core/src/policy/{toml-loader,config,policy-engine,utils}.ts` (checked against 0.61):
 * - `[[rule]]` with `toolName`, `decision` (`allow`|`deny`|`ask_user`), `priority` (0–999),
 *   `commandPrefix`/`commandRegex` (shell only), `argsPattern` (a regex over the tool's arguments as
 *   stable JSON, e.g. `"file_path":"src/a.ts"`);
 * - `--policy` files load in the user tier, above every built-in rule (including yolo's allow-all),
 *   so these rules decide; the first match by priority wins;
 * - a pattern the tool considers unsafe (a quantified group that contains a quantifier, or longer
 *   than 2048 chars) is dropped silently — that would fail open, so every pattern emitted here is
 *   checked with the same test ({@link isSafeGeminiRegex}) and rendering fails instead;
 * - `commandRegex` (shell only) is tested as `"command":"<regex>` against each sub-command; an allowed
 *   prefix such as `cat` would read `.env`, so commands naming a denied or protected path get a deny rule
 *   ({@link commandMentionPattern}; observed with 0.61.0: `cat .env` under `commandPrefix = ["cat"]`
 *   returned the secret). Reads through search tools (`grep_search`) cannot be matched by path;
 * - headless calls with no matching rule are denied (except in yolo mode); build files
 *   (package.json, Makefile, …) are never writable through `write_file`/`replace` in headless mode.
 * Settings keys: `privacy.usageStatisticsEnabled`, `general.enableAutoUpdate`,
 * `general.enableAutoUpdateNotification`, `telemetry.enabled`, `security.auth.selectedType`,
 * `security.folderTrust.enabled`.
 *
 * Workspace trust (packages/core/src/utils/trust.ts `checkPathTrust`, packages/cli settings `mergeSettings`,
 * 0.61.0): a trusted workspace's `.gemini/settings.json` is merged in (its `tools.allowed` and hooks took
 * effect, observed) and its `.env` loaded. So `GEMINI_CLI_TRUST_WORKSPACE=false` makes the worktree
 * untrusted; with `security.folderTrust.enabled: false` the headless start-up check that would refuse an
 * untrusted folder (exit 55) is skipped.
 */
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { InternalError } from '../../core/errors.js';
import { hasGlob } from '../check.js';
import { PROTOCOL_FILES, isGitMetadataGlob, type Policy } from '../policy.js';
import type { RenderContext, RenderedConfig } from './types.js';

/** One `[[rule]]` of a Gemini CLI policy file. */
export interface GeminiRule {
  toolName: string | string[];
  decision: 'allow' | 'deny';
  priority: number;
  commandPrefix?: string[];
  commandRegex?: string;
  argsPattern?: string;
  denyMessage?: string;
}

/** Tools that write files and the argument holding the path. */
export const GEMINI_WRITE_TOOLS = ['write_file', 'replace'] as const;
export const GEMINI_SHELL_TOOL = 'run_shell_command';
export const GEMINI_WEB_TOOLS = ['web_fetch', 'google_web_search'] as const;
/** Content search tools (`search_file_content` is the legacy name of `grep_search`). */
const GEMINI_SEARCH_TOOLS = ['grep_search', 'search_file_content'] as const;

const UNSAFE = /\([^)]*[*+?{].*\)[*+?{]/;

/** The Gemini CLI's own safety test for policy regexes (`isSafeRegExp`): true when it would load the pattern. */
export function isSafeGeminiRegex(pattern: string): boolean {
  if (pattern.length > 2048 || UNSAFE.test(pattern)) return false;
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Translate a repository glob into a regex over a JSON string value (no `"` inside), written so that no
 * group is ever quantified (Gemini CLI would drop such a pattern).
 */
export function globToJsonValueRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        out += '(?:|[^"]*/)';
        i += 2;
      } else {
        out += '[^"]*';
        i += 1;
      }
    } else if (ch === '*') out += '[^/"]*';
    else if (ch === '?') out += '[^/"]';
    else out += escapeRegex(ch);
  }
  return out;
}

/**
 * `argsPattern` matching a tool call whose `file_path` is inside `glob`, given relative (`src/a`,
 * `./src/a`) or absolute (`<worktree>/src/a`) paths.
 */
export function filePathPattern(glob: string, worktree: string): string {
  const anchor = `(?:|\\./|${escapeRegex(worktree)}/)`;
  const body = glob.includes('/') ? globToJsonValueRegex(glob) : `(?:|[^"]*/)${globToJsonValueRegex(glob)}`;
  return `"file_path":"${anchor}${body}"`;
}

const WORD_CHAR = `[^/\\s'"\\\\;|&<>()]`;
const BEFORE_WORD = `(?:|.*[\\s'"=<>(:/])`;
const AFTER_WORD = `(?:[\\s'"\\\\;|&<>)]|$)`;

/**
 * `commandRegex` matching a shell command that names a path inside `glob` as a word (`cat .env`,
 * `sh -c 'cat config/.env'`, `grep x .github/ci.yml`), or undefined for a glob shape this does not cover
 * (`~/…`, or a `/` glob other than `dir/**`). Gemini CLI tests it against `"command":"<regex>` for every
 * sub-command of a compound command.
 */
export function commandMentionPattern(glob: string): string | undefined {
  if (glob.startsWith('~/')) return undefined;
  const word = (g: string) => g.split('').map((ch) => (ch === '*' ? `${WORD_CHAR}*` : ch === '?' ? WORD_CHAR : escapeRegex(ch))).join('');
  if (!glob.includes('/')) return `${BEFORE_WORD}${word(glob)}${AFTER_WORD}`;
  const dir = glob.match(/^(.+)\/\*\*$/);
  if (!dir || hasGlob(dir[1]!)) return undefined;
  return `(?:|.*[\\s'"=<>(:])(?:|\\./)${escapeRegex(dir[1]!)}(?:/|${AFTER_WORD})`;
}

/**
 * Build the policy rules for a policy.
 * @throws InternalError if a generated pattern would be dropped by the tool (never expected)
 */
export function geminiRules(policy: Policy, ctx: RenderContext): GeminiRule[] {
  const rules: GeminiRule[] = [];
  const fileGlobs = (list: { value: string }[]) => list.filter((r) => !r.value.startsWith('~/'));
  for (const r of fileGlobs(policy.deny)) {
    rules.push({ toolName: ['read_file', ...GEMINI_WRITE_TOOLS], decision: 'deny', priority: 950, argsPattern: filePathPattern(r.value, ctx.worktree), denyMessage: `denied by agentctl policy (${r.value})` });
  }
  for (const r of fileGlobs(policy.protected)) {
    rules.push({ toolName: [...GEMINI_WRITE_TOOLS], decision: 'deny', priority: 940, argsPattern: filePathPattern(r.value, ctx.worktree), denyMessage: `agentctl protects ${r.value}` });
  }
  // Shell commands that name a denied path (`cat .env`) or a protected one (`echo x > .gemini/settings.json`)
  // are denied: an allowed command prefix (`cat`, or yolo's allow-all) would otherwise read or write it.
  for (const r of [...policy.deny, ...policy.protected]) {
    if (isGitMetadataGlob(r.value)) continue; // read-only git use names .git freely
    const commandRegex = commandMentionPattern(r.value);
    if (commandRegex) rules.push({ toolName: GEMINI_SHELL_TOOL, decision: 'deny', priority: 930, commandRegex, denyMessage: `the command names ${r.value}, which agentctl's policy denies` });
  }
  if (policy.commands.deny.length) {
    rules.push({ toolName: GEMINI_SHELL_TOOL, decision: 'deny', priority: 900, commandPrefix: policy.commands.deny.map((c) => c.value), denyMessage: 'denied by agentctl policy' });
  }
  if (!policy.network.value) {
    rules.push({ toolName: [...GEMINI_WEB_TOOLS], decision: 'deny', priority: 900, denyMessage: 'network is off in this run' });
  }
  if (policy.deny.length) {
    // grep_search names a pattern, not the files it opens, so no argsPattern can keep it out of denied
    // files (observed with 0.61: it returned a line of .env). It is denied outright; read_file and glob remain.
    rules.push({ toolName: [...GEMINI_SEARCH_TOOLS], decision: 'deny', priority: 950, denyMessage: 'content search could read denied files; use read_file on specific files' });
  }
  for (const r of fileGlobs(policy.write)) {
    rules.push({ toolName: [...GEMINI_WRITE_TOOLS], decision: 'allow', priority: 100, ...(r.value === '**' ? {} : { argsPattern: filePathPattern(r.value, ctx.worktree) }) });
  }
  const allowAll = policy.commands.allow.some((c) => c.value === '*');
  if (allowAll) rules.push({ toolName: GEMINI_SHELL_TOOL, decision: 'allow', priority: 100 });
  else if (policy.commands.allow.length) {
    rules.push({ toolName: GEMINI_SHELL_TOOL, decision: 'allow', priority: 100, commandPrefix: policy.commands.allow.map((c) => c.value) });
  }
  // Everything else that writes or runs is denied here, in the user tier, so the built-in auto_edit/yolo
  // allows (lower tiers) never decide.
  rules.push({ toolName: [...GEMINI_WRITE_TOOLS, GEMINI_SHELL_TOOL], decision: 'deny', priority: 10, denyMessage: 'outside the agentctl policy' });
  for (const rule of rules) {
    for (const pattern of [rule.argsPattern, rule.commandRegex]) {
      if (pattern !== undefined && !isSafeGeminiRegex(pattern)) throw new InternalError(`generated Gemini CLI pattern would be dropped by the tool: ${pattern}`);
    }
  }
  return rules;
}

/** Approval mode for the policy: `yolo` only for the yolo profile, `auto_edit` when writes are granted, else `default`. */
export function geminiApprovalMode(policy: Policy): 'default' | 'auto_edit' | 'yolo' {
  if (policy.yolo) return 'yolo';
  // The agent protocol's report files alone do not make a run a writing one.
  return policy.write.some((w) => !PROTOCOL_FILES.includes(w.value)) ? 'auto_edit' : 'default';
}

/**
 * Render the Gemini CLI configuration for one run.
 * @returns `<runDir>/gemini/policy.toml`, `<runDir>/gemini/home/.gemini/settings.json`, the
 *   `--policy`/`--approval-mode` args and `GEMINI_CLI_HOME`
 */
export function renderGemini(policy: Policy, ctx: RenderContext): RenderedConfig {
  const policyPath = join(ctx.runDir, 'gemini', 'policy.toml');
  const home = join(ctx.runDir, 'gemini', 'home');
  const settings = {
    privacy: { usageStatisticsEnabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    telemetry: { enabled: false },
    security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
  };
  const header = '# Generated by agentctl for one run. Edits here have no effect on later runs.\n';
  return {
    tool: 'gemini',
    files: [
      { path: policyPath, content: header + stringify({ rule: geminiRules(policy, ctx) }) + '\n' },
      { path: join(home, '.gemini', 'settings.json'), content: JSON.stringify(settings, null, 2) + '\n' },
    ],
    args: ['--approval-mode', geminiApprovalMode(policy), '--policy', policyPath],
    placeholders: [],
    env: { GEMINI_CLI_HOME: home, GEMINI_CLI_TRUST_WORKSPACE: 'false', GEMINI_CLI_NO_RELAUNCH: 'true' },
    // User policies (`~/.gemini/policies/*.toml`, geminicli.com/docs/reference/policy-engine) load in the
    // user tier beside `--policy`: one the agent planted could outrank these rules.
    readOnlyDirs: [join(home, '.gemini', 'policies')],
  };
}
