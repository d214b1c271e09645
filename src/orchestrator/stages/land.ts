/**
 * Stage "land": carry out the decision. A failed run is closed; an auto merge is verified once more and
 * merged (then maybe sampled for audit); a run for review notifies the human.
 */
import { StateError } from '../../core/errors.js';
import type { StoredEvent } from '../../evidence/events.js';
import { auditProbability } from '../../evidence/projections/breakers.js';
import type { RunView } from '../../evidence/projections/runs.js';
import { earnedLevel } from '../../evidence/projections/trust.js';
import type { FileChange } from '../../exec/git.js';
import { controlsOf, trustOf, type Context } from '../context.js';
import { controlCaps, sensitiveMatches, type RunDecision } from '../decide.js';
import { notify } from '../notify.js';
import { mergeRun } from '../review.js';
import type { LaunchOutcome } from './launch.js';
import type { Emit, PreparedRun } from './types.js';

/**
 * Land the decision.
 * @param currentRun reads the run's projection as it is now
 * @param random numbers in [0, 1) for audit sampling
 * @param onEvent called for events appended by the merge
 */
export async function landRun(
  ctx: Context,
  run: PreparedRun,
  launched: LaunchOutcome,
  files: readonly FileChange[],
  outcome: { decision: RunDecision; decided: StoredEvent | undefined },
  emit: Emit,
  io: { currentRun: () => RunView; random: () => number; onEvent?: ((e: StoredEvent) => void) | undefined },
): Promise<void> {
  const { task, baseBranch, runId } = run.plan;
  const cfg = ctx.project.config;
  const { decision, decided } = outcome;
  if (decision.outcome === 'failed') {
    emit([{ type: 'run.failed', payload: { step: 'agent', error: launched.summary.errorText ?? `agent exited ${launched.result.exitCode ?? launched.result.signal}` } }]);
  } else if (decision.outcome === 'merge') {
    try {
      const verify = async (): Promise<string | undefined> => {
        const cap = controlCaps(controlsOf(ctx), task.agent, cfg.project)[0];
        if (cap) return `${cap.reason}, before the auto merge`;
        const level = earnedLevel(await trustOf(ctx), cfg.trust, task.agent, cfg.project, task.type).level;
        return level === 'auto' ? undefined : `${task.agent}'s earned level for "${task.type}" fell to ${level} before the auto merge`;
      };
      await mergeRun(ctx, io.currentRun(), { by: 'agentctl (auto)', note: undefined, auto: true, verify }, (e) => io.onEvent?.(e));
      const merged = ctx.store.query({ runId, types: ['run.merged'] })[0]!;
      await notify(ctx, 'auto-merged', merged, `${task.agent} auto-merged ${task.id} into ${baseBranch}`);
      sampleForAudit(ctx, files, io.random, emit);
    } catch (error) {
      // Never fail silently: mergeRun recorded the refusal (merge.failed); the run waits for a human.
      if (!(error instanceof StateError)) throw error;
    }
  } else if (decided) {
    await notify(ctx, 'awaiting-review', decided, `${task.id} (${task.agent}) awaits review: ${decision.reasons.join('; ')}`);
  }
}

/** Queue an auto merge for post-hoc audit with a risk-weighted probability (recorded with the roll). */
function sampleForAudit(ctx: Context, files: readonly FileChange[], random: () => number, emit: Emit): void {
  const lines = files.reduce((n, f) => n + Math.max(0, f.insertions) + Math.max(0, f.deletions), 0);
  const sensitive = sensitiveMatches(files.map((f) => f.path), ctx.project.config.sensitivePaths).length > 0;
  const probability = auditProbability(ctx.project.config.auditSampleRate, lines, sensitive);
  const roll = random();
  if (roll < probability) emit([{ type: 'audit.sampled', payload: { probability, roll, changedLines: lines, sensitive } }]);
}
