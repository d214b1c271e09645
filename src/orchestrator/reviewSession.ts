/**
 * The interactive review's data and actions over an open context: the queue of reviewable runs as
 * plain {@link ReviewRun} values, and the decisions through the same functions (and the same rules) as
 * `review merge`, `review discard` and `review ask`. Every action looks the run up again from the log
 * first, so it decides on the run's current state, not the one the screen was drawn from.
 */
import { InputError, StateError } from '../core/errors.js';
import { AGENT_NAMES, type AgentName } from '../definition/task.js';
import { isReviewable, type RunView } from '../evidence/projections/runs.js';
import { toReviewRun, type ReviewActions, type ReviewRun } from '../ui/review/model.js';
import { terminalSafe } from '../ui/terminal.js';
import { listRuns } from '../evidence/runsStore.js';
import { currentHuman, findRun, type Context } from './context.js';
import { discardAnywhere, fetchRunCommits, mergeAnywhere, reviewSite } from './reviewRemote.js';
import { runDiff } from './review.js';
import { diffWithLeftOut } from '../ui/describe.js';
import { askReviewer } from './reviewAsk.js';

/**
 * Sends a run back to its agent with a reviewer's note (the shape of `requestChanges` in
 * requestChanges.ts). Resolves when the new attempt has finished.
 */
export type SendBack = (ctx: Context, run: RunView, request: { note: string; by: string }) => Promise<unknown>;

/** A review session: the queue now, the actions, and a way to wait for an action still running. */
export interface ReviewSession {
  /** Runs awaiting a decision, in the order they were planned. */
  runs(): ReviewRun[];
  actions: ReviewActions;
  /** True while an action is running. */
  busy(): boolean;
  /** Resolves once no action is running (call before closing the context). */
  idle(): Promise<void>;
}

/** The reviewable runs of the context's project. */
function queue(ctx: Context): ReviewRun[] {
  // Reviewable runs are indexed (each has a live worktree, so they are few); oldest first.
  return listRuns(ctx.store, ctx.project.config.project, { group: 'review' }).runs.filter(isReviewable).reverse().map(toReviewRun);
}

/**
 * Open a review session.
 * @param ctx an open context (the caller closes it, after {@link ReviewSession.idle})
 * @param sendBack how to request changes; without it `actions.requestChanges` is absent
 * @returns the session; action promises reject with the same errors as the matching commands
 *   (StateError when the run cannot be merged or discarded, InputError for an unknown reviewer)
 */
export function reviewSession(ctx: Context, sendBack?: SendBack): ReviewSession {
  const running = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    running.add(p);
    const done = () => void running.delete(p);
    p.then(done, done);
    return p;
  };
  const describe = (run: RunView) => `${terminalSafe(run.task)} (run ${terminalSafe(run.runId)})`;

  const actions: ReviewActions = {
    diff: (runId) =>
      track(
        (async () => {
          const run = findRun(ctx, runId);
          // A run held by another clone: its commits come from the remote first.
          if (reviewSite(ctx, run) === 'remote') await fetchRunCommits(ctx, run);
          // As review show: read through the checkout (the commits are in the common object store).
          const diff = await runDiff(ctx.git, ctx.project.root, run.baseSha, run.headSha);
          if (diff.omitted) throw new StateError(`the diff is ${diff.omitted} and is not shown; agentctl review show ${run.runId} lists the changed files`);
          return diffWithLeftOut(diff);
        })(),
      ),
    merge: (runId) =>
      track(
        (async () => {
          const run = findRun(ctx, runId);
          const by = await currentHuman(ctx);
          const { mergeSha } = await mergeAnywhere(ctx, run, { by, note: undefined, auto: false });
          return `Merged ${describe(run)} into ${terminalSafe(run.baseBranch)} as ${mergeSha.slice(0, 10)}.`;
        })(),
      ),
    discard: (runId) =>
      track(
        (async () => {
          const run = findRun(ctx, runId);
          const by = await currentHuman(ctx);
          const ref = await discardAnywhere(ctx, run, by, undefined);
          return `Discarded ${describe(run)}.${ref ? ` Its work is kept at ${terminalSafe(ref)}.` : ''}`;
        })(),
      ),
    ask: (runId, reviewer) =>
      track(
        (async () => {
          if (!(AGENT_NAMES as readonly string[]).includes(reviewer)) throw new InputError(`reviewer must be one of ${AGENT_NAMES.join(', ')}`);
          const run = findRun(ctx, runId);
          const event = await askReviewer(ctx, run, reviewer as AgentName);
          return `${reviewer} reviewed ${describe(run)}: ${terminalSafe(event.payload.verdict)}`;
        })(),
      ),
    refresh: () => Promise.resolve(queue(ctx)),
  };
  if (sendBack) {
    actions.requestChanges = (runId, note) =>
      track(
        (async () => {
          const run = findRun(ctx, runId);
          const by = await currentHuman(ctx);
          await sendBack(ctx, run, { note, by });
          return `Sent ${describe(run)} back to ${terminalSafe(run.agent)} with your note.`;
        })(),
      );
  }
  return {
    runs: () => queue(ctx),
    actions,
    busy: () => running.size > 0,
    idle: async () => {
      while (running.size) await Promise.allSettled([...running]);
    },
  };
}
