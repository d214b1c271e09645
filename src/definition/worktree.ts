/**
 * The `worktree:` block (worktree bootstrap), shared by `.agentrc.yaml` and a task's front matter. Pure.
 *
 * ```yaml
 * worktree:
 *   setup: [npm ci --prefer-offline]   # run in the OS sandbox after the worktree is made, before the agent
 *   teardown: [docker compose down]    # run in the OS sandbox before the worktree is removed
 *   shared: [node_modules]             # checkout paths the run reads in place, read-only (a symlink)
 *   copy: [.cache/fixtures]            # gitignored checkout paths copied into the worktree
 *   ports: 10                          # AGENTCTL_PORT .. AGENTCTL_PORT+9 reserved for the run
 *   network: [registry.npmjs.org]      # hosts setup/teardown may reach besides the policy's rule
 * ```
 *
 * A task's block overrides the project's field by field: a field the task sets replaces the project's
 * (lists are not concatenated; `setup: []` runs none), a field it leaves out is inherited.
 */
import * as z from 'zod';
import { globMatcher, hasGlob } from '../authz/check.js';
import type { Policy } from '../authz/policy.js';
import picomatch from 'picomatch';

/** Default number of ports reserved per run. */
export const DEFAULT_PORTS = 10;
/** Most ports one run may reserve. */
export const MAX_PORTS = 100;

/** Folders no shared or copied path may be (or lie in): git's metadata and the agent protocol's folder. */
const RESERVED_TOP = ['.git', '.agentctl'];

/** A checkout path for `shared` / `copy`: relative, literal (no globs), no `..`, not `.git` or `.agentctl`. */
const checkoutPath = z
  .string()
  .min(1)
  .transform((p) => p.replace(/^(\.\/)+/, '').replace(/\/+$/, ''))
  .refine((p) => p !== '' && p !== '.' && !p.startsWith('/') && !p.split('/').includes('..') && !p.split('/').includes('.'), 'must be a path inside the repository, relative, without ".."')
  .refine((p) => !hasGlob(p), 'must be a plain path, not a glob')
  .refine((p) => !RESERVED_TOP.includes(p.split('/')[0]!), 'may not be .git or .agentctl (or lie inside them)');

/**
 * A host for `network`: a name (`registry.npmjs.org`), or `*.` and a domain of at least two labels
 * (`*.npmjs.org`: its subdomains). No bare `*`: the OS sandbox (srt) refuses "allow everything".
 */
const hostName = z.string().regex(/^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\*\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$/, 'must be a host name such as registry.npmjs.org (or *.npmjs.org for its subdomains)');

/** Schema of the `worktree:` block (every field optional: a task's block overrides the project's field by field). */
export const worktreeSchema = z.strictObject({
  /** Shell commands run one by one in the sandboxed worktree before the agent; the first failure fails the run. */
  setup: z.array(z.string().min(1)).optional(),
  /** Shell commands run in the sandboxed worktree before it is removed (review merge/discard). */
  teardown: z.array(z.string().min(1)).optional(),
  /** Checkout paths the run reads in place, read-only: a symlink in the worktree, readable in the OS sandbox. */
  shared: z.array(checkoutPath).optional(),
  /** Gitignored checkout files or folders copied into the worktree before setup. */
  copy: z.array(checkoutPath).optional(),
  /** Consecutive free ports reserved for the run (AGENTCTL_PORT is the first). */
  ports: z.number().int().min(1).max(MAX_PORTS).optional(),
  /** Hosts setup and teardown may reach besides the policy's network rule (the agent and the gate never get them). */
  network: z.array(hostName).optional(),
});

/** A `worktree:` block as written (project or task). */
export type WorktreeBlock = z.output<typeof worktreeSchema>;

/** The effective bootstrap settings of one run. */
export interface WorktreeSettings {
  setup: string[];
  teardown: string[];
  shared: string[];
  copy: string[];
  ports: number;
  /** Hosts setup and teardown may reach besides the policy's rule (`[]`: none extra). */
  setupHosts: string[];
}

/**
 * The effective settings: the task's block over the project's, field by field.
 * @param project the `.agentrc.yaml` block (undefined: none)
 * @param task the task's front matter block (undefined: none)
 */
export function resolveWorktree(project: WorktreeBlock | undefined, task: WorktreeBlock | undefined): WorktreeSettings {
  const pick = <K extends keyof WorktreeBlock>(key: K): WorktreeBlock[K] => (task?.[key] !== undefined ? task[key] : project?.[key]);
  return {
    setup: [...(pick('setup') ?? [])],
    teardown: [...(pick('teardown') ?? [])],
    shared: [...new Set(pick('shared') ?? [])],
    copy: [...new Set(pick('copy') ?? [])],
    ports: pick('ports') ?? DEFAULT_PORTS,
    setupHosts: [...new Set(pick('network') ?? [])],
  };
}

/**
 * Why a checkout path may not be shared or copied under `policy`, or undefined when it may: the path is
 * denied itself, or a deny rule names a folder or file inside it (`secrets/**` refuses sharing `secrets`
 * or `.`). Name-only deny globs (`.env`, `*.pem`) match at any depth and cannot refuse a folder; inside a
 * shared folder the OS sandbox hides their matches, and a copied folder is checked file by file
 * ({@link deniedEntry}).
 * @param path repository-relative, as {@link worktreeSchema} normalized it
 */
export function deniedReason(policy: Policy, path: string): string | undefined {
  for (const rule of policy.deny) {
    const glob = rule.value;
    if (glob.startsWith('~/')) continue;
    if (globMatcher(glob)(path)) return `denied by "${glob}" (${rule.source})`;
    if (!glob.includes('/')) continue;
    // A rooted glob whose fixed part lies inside `path` denies something in it.
    const base = picomatch.scan(glob).base;
    if (base === path || base.startsWith(`${path}/`)) return `holds what "${glob}" denies (${rule.source})`;
  }
  return undefined;
}

/**
 * The first of `relPaths` (repository-relative files found inside a copied folder) a deny rule matches.
 * @returns the path and the rule, or undefined
 */
export function deniedEntry(policy: Policy, relPaths: Iterable<string>): { path: string; rule: string } | undefined {
  for (const path of relPaths) {
    const rule = policy.deny.find((r) => !r.value.startsWith('~/') && globMatcher(r.value)(path));
    if (rule) return { path, rule: rule.value };
  }
  return undefined;
}
