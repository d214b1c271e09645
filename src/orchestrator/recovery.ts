/**
 * Crash recovery: a run whose agentctl process died (kill -9, power loss) is found by the next
 * command, its surviving agent process tree is killed, its worktree is made findable in the log, and
 * it is recorded as interrupted so it shows in `agentctl review`.
 */
import { hostname, tmpdir } from 'node:os';
import { existsSync, rmSync } from 'node:fs';
import { runTempDir, worktreePath } from '../core/paths.js';
import type { EventInput } from '../evidence/events.js';
import { projectRuns } from '../evidence/projections/runs.js';
import { listRuns } from '../evidence/runsStore.js';
import { adminDirOf } from '../exec/gitPointer.js';
import { findRunProcesses, isProcessAlive, killProcesses, killProcessGroup } from '../exec/processes.js';
import { runBranch } from '../exec/worktree.js';
import type { Context } from './context.js';
import { storedView } from '../evidence/eventSchemas.js';
import { heartbeatSecondsOf, leaseHeld } from './queue/lease.js';

/** One recovered run. */
export interface Recovered {
  runId: string;
  killedAgent: boolean;
  worktreeFound: boolean;
}

/**
 * Find runs of this project whose owning agentctl process is gone and close them as interrupted.
 * Runs owned by a live process (a run in progress in another terminal) are left alone; so are other
 * machines' runs, except a queue worker's run whose lease on its queue job is lost (queue/lease.ts).
 * @returns the runs recovered
 */
export function recoverOrphanedRuns(ctx: Context): Recovered[] {
  const project = ctx.project.config.project;
  const out: Recovered[] = [];
  // Only runs still in flight are candidates: an index read of the runs projection, then each one's own
  // events (the log is indexed by run) for the authoritative view and its owner's pid.
  for (const candidate of listRuns(ctx.store, project, { states: ['planned', 'running'] }).runs.reverse()) {
    const all = ctx.store.query({ runId: candidate.runId });
    const run = projectRuns(all).get(candidate.runId);
    // A decided run still `running` is one whose agentctl died carrying the decision out (an auto merge
    // waiting for the repository lock, a failure being recorded): it is recovered like any other, and a
    // human then merges or discards it (a merge that already moved the base is found by its trailer).
    if (!run || (run.state !== 'planned' && run.state !== 'running')) continue;
    // A later attempt (review request-changes) has its own owner: only the latest attempt's events count.
    const start = all.findLastIndex((e) => e.type === 'run.planned' || e.type === 'run.attempt_started');
    const mine = all.slice(start);
    const attempt = run.attempts.length;
    // Typed as stored (storedView): a payload written before a field existed lacks it.
    const first = storedView(mine[0]!);
    if (first?.type !== 'run.planned' && first?.type !== 'run.attempt_started') continue;
    const owner = first.payload;
    const ownerPid = Number(owner.ownerPid ?? 0);
    let reason = `agentctl (pid ${ownerPid}) stopped before the run finished`;
    // With a shared log (PostgreSQL), another machine's run is alive or dead there, not here: its own
    // machine recovers it, unless a queue worker ran it and has lost its lease (killed, cut off): then
    // any machine closes it. (Runs logged before ownerHost existed were local.)
    const here = typeof owner.ownerHost !== 'string' || owner.ownerHost === hostname();
    if (here) {
      // A live worker here watches its own lease (the job's signal) and stops the run itself.
      if (isProcessAlive(ownerPid, owner.ownerStart ?? undefined)) continue;
    } else {
      // The queue job belongs to the run as planned (attempt 1); a later attempt was started by a human.
      const job = first.type === 'run.planned' ? first.payload.queueJob : undefined;
      if (!job || leaseHeld(ctx.store, job) !== false) continue;
      reason = `the worker on ${owner.ownerHost} (pid ${ownerPid}) lost its lease on queue job ${job.id} (no heartbeat for ${heartbeatSecondsOf(job.leaseSeconds)} s)`;
    }
    const subject = { runId: run.runId, task: run.task, agent: run.agent, project, taskType: run.taskType };
    const recovered: EventInput[] = [];
    const launched = mine.find((e) => e.type === 'agent.launched')?.payload;
    let killedAgent = false;
    const agentPid = Number(launched?.pid ?? 0);
    if (here && agentPid && !mine.some((e) => e.type === 'agent.exited') && isProcessAlive(agentPid, (launched?.pidStart as string | null) ?? undefined)) {
      killedAgent = killProcessGroup(agentPid);
    }
    // Whatever else still works for the run carries its id (a gate, a setup script, what the agent left
    // behind): a gate left running by a killed agentctl kept writing into the worktree, with no timeout.
    if (here) killProcesses(findRunProcesses(run.runId));
    // Its temp dir (the confined processes' TMPDIR) is left behind when agentctl was killed: nothing of
    // the run uses it any more. (A later attempt makes its own.)
    if (here) rmSync(runTempDir(tmpdir(), run.runId), { recursive: true, force: true });
    // A crash between `git worktree add` and its event leaves a worktree at the deterministic path.
    const path = worktreePath(ctx.paths, ctx.project.key, run.task, run.runId);
    const worktreeFound = existsSync(path);
    if (!run.worktree && worktreeFound) {
      // The admin dir comes from the common dir's records (the worktree's `.git` file is the agent's).
      const gitDir = adminDirOf(ctx.project.commonDir, path) ?? null;
      recovered.push({ ...subject, type: 'sandbox.created', key: `recovered-sandbox:${run.runId}`, payload: { path, branch: runBranch(run.task, run.runId), baseSha: run.baseSha, gitDir, recovered: true } });
    }
    recovered.push({
      ...subject,
      type: 'run.interrupted',
      key: attempt > 1 ? `recovered:${run.runId}:${attempt}` : `recovered:${run.runId}`,
      payload: { reason, recovered: true, killedAgent },
    });
    ctx.store.append(recovered);
    out.push({ runId: run.runId, killedAgent, worktreeFound });
  }
  return out;
}
