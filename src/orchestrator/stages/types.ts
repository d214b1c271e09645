/** Shapes shared by the run pipeline's stages (see ../run.ts for the order). */
import type { SandboxLayout } from '../../authz/render/os.js';
import type { RenderedConfig } from '../../authz/render/types.js';
import type { EventBody, StoredEvent } from '../../evidence/events.js';
import type { GitControlSnapshot } from '../../exec/gitState.js';
import type { PortBlock } from '../../exec/ports.js';
import type { RunPlan } from '../plan.js';

/** Append events for this run (the subject is filled in); returns them as stored. */
export type Emit = (events: EventBody[]) => StoredEvent[];

/** A run whose worktree exists and whose configuration is written: what every later stage works on. */
export interface PreparedRun {
  plan: RunPlan;
  /** The run's folder under AGENTCTL_HOME (generated configs, the tool's home, the temp dir). */
  runDir: string;
  /** The tool's native configuration, written under `runDir` (undefined for the `command` agent). */
  rendered: RenderedConfig | undefined;
  /** What the OS sandbox lets the agent see and write. */
  layout: SandboxLayout;
  /** The run's own temp dir (TMPDIR for every confined process), below `runDir`. */
  tmpDir: string;
  /** The worktree's git admin dir, recorded at creation: agentctl never reads it from the worktree. */
  gitDir: string;
  /** The common `.git`'s control files (config, hooks, info, worktree records) before the agent ran. */
  gitControl: GitControlSnapshot;
  /** The run's block of ports (released when the run ends). */
  ports: PortBlock;
  /** Variables every confined process of the run gets (AGENTCTL_PORT, AGENTCTL_PORT_COUNT). */
  vars: Record<string, string>;
  /** The project's package-manager cache, writable by `worktree.setup` only. */
  cacheDir: string;
}

/** What confining a process needs to know about its run (a run, or a reviewer working in a run's worktree). */
export interface ConfinedRun {
  plan: Pick<RunPlan, 'osSandbox' | 'policy' | 'runId' | 'worktree'> & { task: { id: string } };
  layout: SandboxLayout;
  tmpDir: string;
  /** Run variables for its processes besides the identity (see PreparedRun.vars). */
  vars?: Record<string, string>;
  /** The project's package-manager cache, writable by `worktree.setup` only (see paths.ts packageCacheDir). */
  cacheDir?: string;
}
