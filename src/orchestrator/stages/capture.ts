/**
 * Stage "capture": once the agent is gone (its whole process tree), whatever it left in the worktree
 * becomes one commit on the run branch, made by agentctl (protocol files and shared paths excluded), and the run branch is
 * put back if the agent moved HEAD elsewhere (event `sandbox.committed`).
 */
import { leadingWithin } from '../../core/quota.js';
import { killRunProcesses } from '../../exec/processes.js';
import { agentIdentity } from '../../exec/git.js';
import { inspectChanges, type InspectedFile } from '../../exec/inspect.js';
import { captureWork, removePlaceholders, sandboxTarget } from '../../exec/worktree.js';
import { guardGitState } from './gitGuard.js';
import type { Context } from '../context.js';
import { PROTOCOL_PATHS } from '../protocol.js';
import type { Emit, PreparedRun } from './types.js';

/**
 * Most changed files `sandbox.committed` lists one by one: 1,000 (GitHub's pull request view stops near
 * 3,000). An agent can change any number of files (50,000 empty ones made a 4 MB event, and every list
 * command that read the run took 4× its time and memory); the event also records how many there are,
 * and its line and byte totals count every file. The run's own decision reads every file.
 */
export const MAX_RECORDED_FILES = 1000;

/**
 * Most characters of paths one list of a run's files (or of its violations) holds: 100,000, some 1,000
 * paths of 100 characters. The agent chooses its paths' length: 1,000 changed files and 1,000 violations
 * under a 3,800-character folder made an 11 MB run row, and `runs --json` then peaked at 220 MB for that
 * one run. Past it, files are counted like those past {@link MAX_RECORDED_FILES}.
 */
export const MAX_RECORDED_PATH_CHARS = 100_000;

/** The captured work. */
export interface Captured {
  headSha: string;
  /** Every changed file with line counts, changed bytes and mode (from the inspection; the event lists at most {@link MAX_RECORDED_FILES}). */
  files: InspectedFile[];
  /** What each changed file really is, held against the policy (links, denied bytes, gitlinks, modes, scope). */
  violations: { path: string; reason: string; protected: boolean }[];
  /** Processes of the run still alive after the agent exited, killed here (pids). */
  stragglers: number[];
}

/**
 * Kill what the agent left running, then commit its work.
 * @returns the head commit and the changed files
 */
export async function captureRun(ctx: Context, run: PreparedRun, emit: Emit): Promise<Captured> {
  const { plan } = run;
  // Nothing the agent started may keep writing while agentctl commits (or after the run): in the OS
  // sandbox its PID namespace is already gone; without it, this finds what escaped the process group.
  const stragglers = await killRunProcesses(plan.runId);
  if (stragglers.length) emit([{ type: 'agent.stragglers', payload: { killed: stragglers.length, pids: stragglers } }]);
  // git itself as agentctl left it: the worktree's pointer and the common .git's control files.
  // (What it finds is recorded as escalation.attempted; the decision reads those events.)
  guardGitState(ctx, run, emit);
  // The tool sandbox's empty stand-ins for protected paths go first.
  removePlaceholders(run.rendered?.placeholders ?? []);
  // Shared checkout paths (links into the checkout) are never the run's work, whatever the agent did there.
  const exclude = [...PROTOCOL_PATHS, ...plan.bootstrap.settings.shared];
  const capture = await captureWork(ctx.git, sandboxTarget({ path: plan.worktree, gitDir: run.gitDir }), plan.branch, `agentctl: ${plan.task.id} (run ${plan.runId})\n\n${plan.task.title}`, agentIdentity(plan.task.agent), exclude, plan.baseSha);
  const headSha = capture.headSha;
  const inspection = headSha === plan.baseSha ? { files: [], violations: [], totalBytes: 0 } : await inspectChanges(ctx.git, { worktree: plan.worktree, repoRoot: ctx.project.root, base: plan.baseSha, head: headSha, policy: plan.policy });
  const files = inspection.files;
  const listed = leadingWithin(files, MAX_RECORDED_FILES, MAX_RECORDED_PATH_CHARS, (f) => f.path.length);
  emit([
    {
      type: 'sandbox.committed',
      payload: {
        headSha,
        files: listed,
        ...(files.length > listed.length ? { fileCount: files.length } : {}),
        insertions: files.reduce((n, f) => n + Math.max(0, f.insertions), 0),
        deletions: files.reduce((n, f) => n + Math.max(0, f.deletions), 0),
        bytes: inspection.totalBytes,
        branchRepaired: capture.repaired ? { from: capture.repaired.from } : null,
      },
    },
  ]);
  return { headSha, files, violations: inspection.violations.map((v) => ({ path: v.path, reason: v.reason, protected: v.protected })), stragglers };
}
