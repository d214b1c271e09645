/** `agentctl restore <run>`: recreate a discarded or lost run's worktree from its branch or archive, back in review. */
import { EXIT, StateError } from '../core/errors.js';
import { worktreePath } from '../core/paths.js';
import { runBranch, restoreSandbox } from '../exec/worktree.js';
import { findRun } from '../orchestrator/context.js';
import { printJson, println } from '../ui/output.js';
import { withContext } from './shared.js';

export default async function restore(id: string, opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    if (run.sandboxLive) throw new StateError(`run ${run.runId} still has its worktree at ${run.worktree}`);
    if (run.state === 'merged') throw new StateError(`run ${run.runId} was merged; its work is on ${run.baseBranch}`);
    const branch = run.branch ?? runBranch(run.task, run.runId);
    const sandbox = await restoreSandbox(ctx.git, ctx.project.root, ctx.lockPath, worktreePath(ctx.paths, ctx.project.key, run.task, run.runId), branch, run.runId, `agentctl restore ${run.runId}`);
    ctx.store.append({ runId: run.runId, task: run.task, agent: run.agent, project: run.project, taskType: run.taskType, type: 'sandbox.restored', payload: { path: sandbox.path, branch, headSha: sandbox.headSha } });
    if (opts.json) printJson({ runId: run.runId, path: sandbox.path, branch, headSha: sandbox.headSha });
    else println(`Restored run ${run.runId} at ${sandbox.path} (branch ${branch}); it awaits review again.`);
    return EXIT.OK;
  });
}
