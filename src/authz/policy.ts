/**
 * Composition: a task's profiles → one normalized policy. Pure.
 *
 * Semantics (DESIGN.md): default deny; grants are the union of the profiles' grants; any deny beats any
 * allow; the order of profiles never changes a decision; `scope: paths` (careful) replaces the write
 * grants with the task's `paths`; `yolo` must be named by the task and is refused for `auto` tasks.
 * agentctl's own files (task files, profiles, `.agentrc.yaml`, tool config folders) are always
 * write-denied: an agent cannot raise its own permissions.
 */
import { InputError } from '../core/errors.js';
import type { Task } from '../definition/task.js';
import type { Profile } from './profile.js';

/** Report files of the agent protocol, relative to the worktree (see orchestrator/protocol.ts). */
export const PROTOCOL_FILES = ['status.jsonl', 'trace.jsonl', 'escalate.json', 'followups.jsonl', 'handover.md'].map((f) => `.agentctl/${f}`);

/** Whether a run's processes live in the OS sandbox (`os`) or not (`none`, said explicitly by a profile). */
export type SandboxMode = 'os' | 'none';

/** A rule value with the profile it came from (`agentctl` for built-in protections, `task` for task paths). */
export interface Sourced<T> {
  value: T;
  source: string;
}

/** The one source of truth for what a run may do. Globs are relative to the worktree root (or `~/…`). */
export interface Policy {
  /** Profiles composed, in the task's order, with `extends` expanded (base first). */
  profiles: string[];
  read: Sourced<string>[];
  write: Sourced<string>[];
  /** Neither read nor write. */
  deny: Sourced<string>[];
  /** Write-denied: agentctl's and the tools' own configuration (self-escalation guard). */
  protected: Sourced<string>[];
  commands: { allow: Sourced<string>[]; deny: Sourced<string>[] };
  network: Sourced<boolean>;
  env: Sourced<string>[];
  yolo: boolean;
  /** True when `careful` narrowed writes to the task's paths. */
  narrowed: boolean;
  /**
   * The OS sandbox for every process of the run: `os` unless a profile says `sandbox: none` and none says
   * `sandbox: os` (the safer choice wins), with the profile that decided (`default` when none spoke).
   */
  sandbox: Sourced<SandboxMode>;
}

/** What the composition needs to know about the project. */
export interface ComposeContext {
  tasksDir: string;
  profilesDir: string;
}

/**
 * The instruction files the agent tools read from a repository, at any depth: Codex's `AGENTS.md` and
 * `AGENTS.override.md` (from the git root down to the working folder), Claude Code's `CLAUDE.md` and
 * `CLAUDE.local.md`, Gemini CLI's `GEMINI.md`. Written by an agent, they instruct every later run of
 * every profile and the reviewers `review ask` starts in its worktree (an attack session wrote each,
 * in scope under `implement`'s `*.md`), as the handover note would if it were not held back.
 */
export const INSTRUCTION_FILES = ['**/AGENTS.md', '**/AGENTS.override.md', '**/CLAUDE.md', '**/CLAUDE.local.md', '**/GEMINI.md'];

/** Files no agent may write, whatever its profiles say. */
export function protectedGlobs(ctx: ComposeContext): string[] {
  return [
    '.agentrc.yaml',
    '.agentctl/PROTOCOL.md',
    `${ctx.tasksDir.replace(/\/+$/, '')}/**`,
    `${ctx.profilesDir.replace(/\/+$/, '')}/**`,
    '.claude/**',
    '.gemini/**',
    '.codex/**',
    '.mcp.json',
    ...INSTRUCTION_FILES,
    '.git',
    '.git/**',
  ];
}

/**
 * True for the protected globs that name the worktree's git metadata (`.git`, `.git/**`, from
 * {@link protectedGlobs}). The renderers treat them apart: git must still read `.git` (in a worktree a
 * pointer file), and agentctl commits on the agent's behalf, so they stay readable and shell commands
 * may name them. Pure.
 * @param glob a policy glob
 */
export function isGitMetadataGlob(glob: string): boolean {
  return glob === '.git' || glob === '.git/**';
}

/**
 * Compose a task's profiles into one policy.
 * @param task the task (its `profiles`, `paths`, `autonomy`)
 * @param profiles every known profile by name (built-in and project)
 * @param ctx project folders for the protected-path list
 * @returns the policy
 * @throws InputError for an unknown profile, an `extends` cycle, `careful` without `paths`, or `yolo` on an `auto` task
 */
export function composePolicy(task: Pick<Task, 'id' | 'file' | 'profiles' | 'paths' | 'autonomy'>, profiles: ReadonlyMap<string, Profile>, ctx: ComposeContext): Policy {
  const expanded: Profile[] = [];
  const seen = new Set<string>();
  const expand = (name: string, chain: string[]): void => {
    const profile = profiles.get(name);
    if (!profile) {
      throw new InputError(`${task.file}: task field "profile": unknown profile "${name}" (known: ${[...profiles.keys()].sort().join(', ')})`, {
        file: task.file,
        field: 'profile',
      });
    }
    if (chain.includes(name)) {
      throw new InputError(`${profile.origin}: profile field "extends": cycle ${[...chain, name].join(' → ')}`, { file: profile.origin, field: 'extends' });
    }
    if (profile.extends) {
      const base = profiles.get(profile.extends);
      if (base?.yolo) {
        throw new InputError(`${profile.origin}: profile field "extends": cannot extend "yolo"; name it on the task instead`, { file: profile.origin, field: 'extends' });
      }
      expand(profile.extends, [...chain, name]);
    }
    if (!seen.has(name)) {
      seen.add(name);
      expanded.push(profile);
    }
  };
  for (const name of task.profiles) expand(name, []);

  const yolo = task.profiles.some((n) => profiles.get(n)?.yolo);
  if (yolo && task.autonomy === 'auto') {
    throw new InputError(`${task.file}: task field "profile": "yolo" is refused for autonomy "auto"`, { file: task.file, field: 'profile' });
  }
  const narrowed = expanded.some((p) => p.scope === 'paths');
  if (narrowed && task.paths.length === 0) {
    throw new InputError(`${task.file}: task field "paths": profile "careful" narrows writes to "paths", which is empty`, {
      file: task.file,
      field: 'paths',
    });
  }

  const collect = (pick: (p: Profile) => string[]): Sourced<string>[] => {
    const out = new Map<string, Sourced<string>>();
    for (const p of expanded) for (const value of pick(p)) if (!out.has(value)) out.set(value, { value, source: p.name });
    return [...out.values()];
  };
  const boxed = expanded.find((p) => p.sandbox === 'os');
  const unboxed = expanded.find((p) => p.sandbox === 'none');
  const forbids = expanded.find((p) => p.network === false);
  const grants = expanded.find((p) => p.network === true);
  const network: Sourced<boolean> = forbids
    ? { value: false, source: forbids.name }
    : grants
      ? { value: true, source: grants.name }
      : { value: false, source: 'default' };

  return {
    profiles: expanded.map((p) => p.name),
    read: collect((p) => p.read),
    write: [
      ...(narrowed ? task.paths.map((value) => ({ value, source: 'task paths (careful)' })) : collect((p) => p.write)),
      // The agent protocol's report files (never merged: excluded from the run's commit).
      ...PROTOCOL_FILES.map((value) => ({ value, source: 'agentctl protocol' })),
    ],
    deny: collect((p) => p.deny),
    protected: protectedGlobs(ctx).map((value) => ({ value, source: 'agentctl' })),
    commands: { allow: collect((p) => p.commands.allow), deny: collect((p) => p.commands.deny) },
    network,
    env: collect((p) => p.env),
    yolo,
    narrowed,
    sandbox: boxed ? { value: 'os', source: boxed.name } : unboxed ? { value: 'none', source: unboxed.name } : { value: 'os', source: 'default' },
  };
}

/**
 * The intersection of two policies: what both allow. Used for follow-up tasks an agent requests, so a
 * child never gets more than its parent. Glob and command lists intersect literally, with `**` (paths)
 * and `*` (commands) standing for "everything"; denies and protections are unioned; network, yolo and
 * env must be granted by both.
 * @returns a policy whose every allow is allowed by both inputs
 */
export function intersectPolicies(child: Policy, parent: Policy): Policy {
  const meet = (a: Sourced<string>[], b: Sourced<string>[], all: string): Sourced<string>[] => {
    if (b.some((r) => r.value === all)) return a;
    if (a.some((r) => r.value === all)) return b;
    const inB = new Set(b.map((r) => r.value));
    return a.filter((r) => inB.has(r.value));
  };
  const union = (a: Sourced<string>[], b: Sourced<string>[]): Sourced<string>[] => {
    const seen = new Set(a.map((r) => r.value));
    return [...a, ...b.filter((r) => !seen.has(r.value))];
  };
  return {
    profiles: [`(${child.profiles.join(' + ')}) ∩ (${parent.profiles.join(' + ')})`],
    read: meet(child.read, parent.read, '**'),
    write: meet(child.write, parent.write, '**'),
    deny: union(child.deny, parent.deny),
    protected: union(child.protected, parent.protected),
    commands: { allow: meet(child.commands.allow, parent.commands.allow, '*'), deny: union(child.commands.deny, parent.commands.deny) },
    network: child.network.value && parent.network.value ? child.network : { value: false, source: child.network.value ? parent.network.source : child.network.source },
    env: child.env.filter((e) => parent.env.some((p) => p.value === e.value)),
    yolo: child.yolo && parent.yolo,
    narrowed: child.narrowed || parent.narrowed,
    sandbox: child.sandbox.value === 'os' ? child.sandbox : parent.sandbox,
  };
}
