/**
 * Decisions against a policy: may this path be read/written, may this command run? Pure.
 * Used for the post-run scope check of a diff and by `policy check`.
 *
 * Glob semantics (gitignore-like, via picomatch with `dot: true`): a glob without `/` matches the
 * file name at any depth (`.env`, `*.pem`); a glob with `/` matches from the worktree root (`src/**`).
 */
import picomatch from 'picomatch';
import type { Policy, Sourced } from './policy.js';

/** An allow/deny answer and the rule that decided it (undefined rule = default deny). */
export interface Decision {
  allowed: boolean;
  rule: { kind: 'read' | 'write' | 'deny' | 'protected' | 'command-allow' | 'command-deny' | 'network' | 'default'; value: string; source: string } | undefined;
}

const matcherCache = new Map<string, (path: string) => boolean>();

/**
 * True when a glob has any glob syntax (`*`, `?`, `[…]`, `{…}`, extglobs), as picomatch's scanner sees it:
 * `src/{a,b}.ts`, `*.md`, `src/**` → true; `src/a.ts`, `.mcp.json` → false. Used by the renderers to
 * tell exact paths from patterns. Pure; never throws.
 * @param glob a policy glob or a path derived from one
 */
export function hasGlob(glob: string): boolean {
  return picomatch.scan(glob).isGlob;
}

/** Compile (and cache) a repository-relative glob into a matcher. `~/` globs never match repository paths. */
export function globMatcher(glob: string): (path: string) => boolean {
  let m = matcherCache.get(glob);
  if (!m) {
    if (glob.startsWith('~/')) m = () => false;
    else {
      const isMatch = picomatch(glob, { dot: true, basename: !glob.includes('/') });
      m = (path: string) => isMatch(path);
    }
    matcherCache.set(glob, m);
  }
  return m;
}

function firstMatch(rules: Sourced<string>[], path: string): Sourced<string> | undefined {
  return rules.find((r) => globMatcher(r.value)(path));
}

/** The path rules of a policy (what {@link decidePath} reads): a whole {@link Policy}, or the command guard's rules file. */
export type PathRules = Pick<Policy, 'read' | 'write' | 'deny' | 'protected'>;

/**
 * Decide a file access.
 * @param policy the run's policy, or its path rules
 * @param access `read` or `write`
 * @param path repository-relative path with `/` separators
 */
export function decidePath(policy: PathRules, access: 'read' | 'write', path: string): Decision {
  const normalized = path.replace(/^\.\//, '');
  const denied = firstMatch(policy.deny, normalized);
  if (denied) return { allowed: false, rule: { kind: 'deny', value: denied.value, source: denied.source } };
  if (access === 'write') {
    const prot = firstMatch(policy.protected, normalized);
    if (prot) return { allowed: false, rule: { kind: 'protected', value: prot.value, source: prot.source } };
  }
  const grants = access === 'read' ? policy.read : policy.write;
  const granted = firstMatch(grants, normalized) ?? (access === 'read' ? firstMatch(policy.write, normalized) : undefined);
  if (granted) return { allowed: true, rule: { kind: access, value: granted.value, source: granted.source } };
  return { allowed: false, rule: undefined };
}

/** True when `command` starts with `prefix` as a whole word (`git status` matches `git status -s`, not `git statusx`). */
export function commandMatches(prefix: string, command: string): boolean {
  if (prefix === '*') return true;
  const c = command.trim();
  return c === prefix || c.startsWith(prefix + ' ');
}

const SUBSTITUTION = /\$\(|`|<\(|>\(/;

/**
 * Decide a shell command. Compound commands (`&&`, `||`, `;`, `|`) are split; every part must be allowed.
 * A command with a substitution (`$(…)`, backticks, `<(…)`, `>(…)`) is always denied.
 * @param policy the command rules only (a whole {@link Policy}, or the guard's rules file)
 * @param command the command line as the agent would run it
 * @returns allowed with the `command-allow` rule of the last part; denied with the `command-deny` rule,
 *   the `default` substitution rule, or no rule (not in the allowed list, or an empty command)
 */
export function decideCommand(policy: Pick<Policy, 'commands'>, command: string): Decision {
  const parts = command.split(/&&|\|\||;|\||\n/).map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) return { allowed: false, rule: undefined };
  // A substitution runs a command no prefix rule sees (`git log $(cat .env)` starts with `git log`, and
  // `echo $(sudo …)` hides a denied one). Gemini CLI refuses it in every mode; agentctl does the same.
  if (SUBSTITUTION.test(command)) {
    return { allowed: false, rule: { kind: 'default', value: 'command substitution ($(…), `…`, <(…), >(…)) is never allowed', source: 'agentctl' } };
  }
  let lastAllow: Decision | undefined;
  for (const part of parts) {
    const deny = policy.commands.deny.find((r) => commandMatches(r.value, part));
    if (deny) return { allowed: false, rule: { kind: 'command-deny', value: deny.value, source: deny.source } };
    const allow = policy.commands.allow.find((r) => commandMatches(r.value, part));
    if (!allow) return { allowed: false, rule: undefined };
    lastAllow = { allowed: true, rule: { kind: 'command-allow', value: allow.value, source: allow.source } };
  }
  return lastAllow!;
}

/** One changed file that the policy did not allow the agent to write. */
export interface ScopeViolation {
  path: string;
  /** Why: the deny/protected rule that forbids it, or `outside write scope`. */
  reason: string;
  protected: boolean;
}

/**
 * Check a run's changed files against the policy's write scope.
 * @param changedPaths repository-relative paths changed between the base and the run's head
 * @returns one entry per path the policy does not allow writing (empty = inside scope)
 */
export function scopeViolations(policy: Policy, changedPaths: readonly string[]): ScopeViolation[] {
  const out: ScopeViolation[] = [];
  for (const path of changedPaths) {
    const d = decidePath(policy, 'write', path);
    if (d.allowed) continue;
    out.push({
      path,
      reason: d.rule ? `${d.rule.kind} rule "${d.rule.value}" (${d.rule.source})` : 'outside write scope',
      protected: d.rule?.kind === 'protected',
    });
  }
  return out;
}
