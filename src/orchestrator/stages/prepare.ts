/**
 * Stage "prepare": the run's worktree with its bootstrap (copied and shared checkout paths, a block of
 * ports), its protocol folder, the tool's native configuration (outside the worktree) and the OS sandbox
 * layout. Everything that can refuse was checked by planRun before this.
 */
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import type { SandboxLayout } from '../../authz/render/os.js';
import type { RenderedConfig } from '../../authz/render/types.js';
import { packageCacheDir, portLeasesDir, runDir as runDirOf, runTempDir, runTempRoot } from '../../core/paths.js';
import { confinedToolchains } from '../../exec/osSandbox.js';
import { snapshotGitControl, type GitControlSnapshot } from '../../exec/gitState.js';
import { portEnv, releasePorts, reservePorts, type PortBlock } from '../../exec/ports.js';
import { createSandbox } from '../../exec/worktree.js';
import { applyBootstrap, unlinkShared } from '../bootstrap.js';
import type { Context } from '../context.js';
import type { RunPlan } from '../plan.js';
import { installProtocol } from '../protocol.js';
import { writeRendered } from './render.js';
import type { Emit, PreparedRun } from './types.js';

/**
 * Create the worktree (event `sandbox.created`), copy and link the bootstrap's paths and lease the run's
 * ports (event `worktree.bootstrapped`), install the protocol, render and write the tool's configuration
 * (event `policy.rendered`).
 * @throws whatever git throws when the worktree cannot be made (recorded as `run.failed`, step
 *   `sandbox`), the filesystem's error when a copy or link fails and StateError when no ports are free
 *   (recorded as `run.failed`, step `bootstrap`)
 */
export async function prepareRun(ctx: Context, plan: RunPlan, emit: Emit): Promise<PreparedRun> {
  let gitDir: string;
  try {
    // The admin dir is confirmed while nothing but agentctl has touched the worktree: later git calls use
    // it, never the worktree's `.git` file.
    ({ gitDir } = await createSandbox(ctx.git, ctx.project.root, ctx.lockPath, plan.worktree, plan.branch, plan.baseSha, `agentctl run ${plan.runId}`));
  } catch (error) {
    emit([{ type: 'run.failed', payload: { step: 'sandbox', error: (error as Error).message } }]);
    throw error;
  }
  emit([{ type: 'sandbox.created', payload: { path: plan.worktree, branch: plan.branch, baseSha: plan.baseSha, gitDir } }]);
  // What makes code run later (config, hooks, info, other worktrees' records), as it was before the agent.
  const gitControl = snapshotGitControl(ctx.project.commonDir, gitDir);
  const ports = await bootstrapWorktree(ctx, plan, emit);
  try {
    return await configure(ctx, plan, gitDir, gitControl, ports, emit);
  } catch (error) {
    releaseRun(ctx, { plan });
    throw error;
  }
}

/**
 * Copy and link the bootstrap's paths and lease the ports; recorded as `worktree.bootstrapped` (a later
 * attempt of the run calls it again, with nothing to copy: the shared links and ports went with the
 * last attempt).
 * @throws like {@link prepareRun}'s bootstrap step (recorded as `run.failed`, step `bootstrap`)
 */
export async function bootstrapWorktree(ctx: Context, plan: RunPlan, emit: Emit): Promise<PortBlock> {
  const boot = plan.bootstrap;
  try {
    const applied = applyBootstrap(ctx, plan.worktree, boot, plan.policy);
    const ports = await reservePorts(portLeasesDir(ctx.paths), plan.runId, boot.settings.ports);
    const { setup, teardown, setupHosts } = boot.settings;
    emit([{ type: 'worktree.bootstrapped', payload: { ...applied, missing: boot.missing, ports: { first: ports.first, count: ports.count }, setup, teardown, network: setupHosts } }]);
    return ports;
  } catch (error) {
    unlinkShared(plan.worktree, boot);
    emit([{ type: 'run.failed', payload: { step: 'bootstrap', error: (error as Error).message } }]);
    throw error;
  }
}

/**
 * The end of a run, whatever its outcome: the shared links leave the worktree (so no later git step can
 * pick them up) and the ports are released. Never throws.
 */
export function releaseRun(ctx: Context, run: { plan: RunPlan }): void {
  unlinkShared(run.plan.worktree, run.plan.bootstrap);
  releasePorts(portLeasesDir(ctx.paths), run.plan.runId);
}

/**
 * The protocol folder, the tool's configuration and the OS sandbox layout (event `policy.rendered`).
 * A later attempt of the run calls it again on the same worktree and run folder (the tool's home, with
 * its sessions, is kept).
 */
export async function configure(ctx: Context, plan: RunPlan, gitDir: string, gitControl: GitControlSnapshot, ports: PortBlock, emit: Emit): Promise<PreparedRun> {
  // The protocol folder first (renderers may look at what exists), then the tool's config in the run
  // directory, never in the worktree.
  installProtocol(plan.worktree, ctx.project.config.protocol.escalateBelow);
  standInsForSandbox(plan.worktree);
  const dir = runDirOf(ctx.paths, plan.runId);
  const rendered = plan.adapter.render(plan.policy, { worktree: plan.worktree, runDir: dir, homeDir: homedir() });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeRendered(rendered);
  const tmpDir = runTempDir(tmpdir(), plan.runId);
  mkdirSync(runTempRoot(tmpdir()), { recursive: true, mode: 0o700 });
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const layout = sandboxLayout(ctx, plan.worktree, dir, tmpDir, rendered, plan.bootstrap.shared.map((s) => s.real));
  const cacheDir = packageCacheDir(ctx.paths, ctx.project.key);
  if (plan.bootstrap.settings.setup.length) mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  emit([
    {
      type: 'policy.rendered',
      payload: {
        tool: rendered?.tool ?? plan.task.agent,
        files: (rendered?.files ?? []).map((f) => f.path),
        args: rendered?.args ?? [],
        sandbox: plan.osSandbox ? 'os' : 'none',
        sandboxSource: plan.policy.sandbox.source,
        policy: policySummary(plan.policy),
      },
    },
  ]);
  return { plan, runDir: dir, rendered, layout, tmpDir, gitDir, gitControl, ports, vars: portEnv(ports), cacheDir };
}

/**
 * What the OS sandbox lets a run's agent see and write: its worktree, its tool homes (the `*_HOME` /
 * `*_DIR` folders the renderer names) and its temp dir; the generated config files and the tool's
 * configuration folders (RenderedConfig.readOnlyDirs) stay read-only; the
 * shared checkout paths (`worktree.shared`, absolute real paths) are readable, never writable.
 */
export function sandboxLayout(ctx: Context, worktree: string, runDir: string, tmpDir: string, rendered: RenderedConfig | undefined, shared: readonly string[] = []): SandboxLayout {
  const homes = Object.entries(rendered?.env ?? {})
    .filter(([name]) => /_(HOME|DIR)$/.test(name))
    .map(([, value]) => value);
  const tempRoot = dirname(tmpDir);
  return {
    worktree,
    repoRoot: ctx.project.root,
    commonGitDir: ctx.project.commonDir,
    agentctlHome: ctx.paths.home,
    runDir,
    writable: [...homes, tmpDir],
    tempRoot,
    readOnlyFiles: [...(rendered?.files ?? []).map((f) => f.path), ...(rendered?.readOnlyDirs ?? [])],
    homeDir: homedir(),
    platform: process.platform,
    toolchains: confinedToolchains(ctx.env, homedir(), [ctx.project.root, ctx.paths.home, tempRoot], ctx.project.config.osSandboxRead.map((f) => (f.startsWith('~/') ? join(homedir(), f.slice(2)) : normalize(f)))),
    ...(shared.length ? { shared: [...shared] } : {}),
  };
}

/**
 * The layout a run of this project would get, before any run exists (for `policy show`): no tool homes,
 * a temp dir named after `runDir`'s last part.
 */
export function sandboxLayoutFor(ctx: Context, worktree: string, runDir: string): SandboxLayout {
  return sandboxLayout(ctx, worktree, runDir, runTempDir(tmpdir(), runDir.split('/').at(-1) ?? 'run'), undefined);
}

/**
 * srt always write-protects `.claude/commands` and `.claude/agents`, mounting a stand-in where they are
 * missing; inside a committed (and write-protected) `.claude/` it cannot create one and refuses to start.
 * Empty folders there are invisible to git, so they are made here.
 */
export function standInsForSandbox(worktree: string): void {
  const claude = join(worktree, '.claude');
  if (!existsSync(claude) || !lstatSync(claude).isDirectory()) return;
  for (const dir of ['commands', 'agents']) {
    const path = join(claude, dir);
    if (!existsSync(path)) mkdirSync(path);
  }
}


/** A compact, serializable summary of a policy for the event log. */
function policySummary(policy: RunPlan['policy']): Record<string, unknown> {
  const values = (list: { value: string }[]) => list.map((r) => r.value);
  return {
    profiles: policy.profiles,
    read: values(policy.read),
    write: values(policy.write),
    deny: values(policy.deny),
    commandsAllow: values(policy.commands.allow),
    commandsDeny: values(policy.commands.deny),
    network: policy.network.value,
    yolo: policy.yolo,
    narrowed: policy.narrowed,
    sandbox: policy.sandbox.value,
  };
}
