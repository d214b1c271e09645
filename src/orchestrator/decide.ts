/**
 * Run decisions: effective autonomy and what happens to a finished run. Pure.
 */
import { autonomyRank, minAutonomy, type Autonomy } from '../definition/task.js';

/** Effective autonomy with the reasons for each cap. */
export interface EffectiveAutonomy {
  level: Autonomy;
  reasons: string[];
}

/**
 * Effective autonomy = min(requested, earned, caps).
 * @param requested the task's level
 * @param earned the agent's earned level for this task type, with its reason
 */
export function effectiveAutonomy(requested: Autonomy, earned: { level: Autonomy; reason: string }): EffectiveAutonomy {
  const level = minAutonomy(requested, earned.level);
  const reasons = [`requested ${requested}`];
  if (autonomyRank(earned.level) < autonomyRank(requested)) reasons.push(`capped at ${earned.level}: earned level is ${earned.level} (${earned.reason})`);
  return { level, reasons };
}

/** Facts about a finished run that the decision uses. */
export interface RunFacts {
  effective: Autonomy;
  /** The agent's earned level for this task type at decision time. */
  earned: Autonomy;
  agentSucceeded: boolean;
  /** Number of files changed by the run. */
  changedFiles: number;
  /** Gate result, or undefined when the task has no gate. */
  gatePassed: boolean | undefined;
  scopeViolations: number;
}

/** What to do with a finished run. */
export interface RunDecision {
  outcome: 'merge' | 'review' | 'failed';
  reasons: string[];
}

/**
 * Decide a finished run. `merge` only when every condition of the auto-merge invariant holds:
 * effective and earned level `auto`, agent succeeded, something changed, a gate ran and passed, and the
 * diff stays inside the write scope. Otherwise a human decides.
 */
export function decideRun(f: RunFacts): RunDecision {
  if (!f.agentSucceeded) return { outcome: 'failed', reasons: ['the agent did not finish successfully; review or discard it'] };
  const blockers: string[] = [];
  if (f.effective !== 'auto') blockers.push(`effective autonomy is ${f.effective}`);
  if (f.earned !== 'auto') blockers.push(`earned level is ${f.earned}`);
  if (f.changedFiles === 0) blockers.push('no changes to merge');
  if (f.gatePassed === undefined) blockers.push('no gate ran (auto merges need a passing gate)');
  else if (!f.gatePassed) blockers.push('the gate failed');
  if (f.scopeViolations > 0) blockers.push(`${f.scopeViolations} change(s) outside the policy's write scope`);
  if (blockers.length === 0) return { outcome: 'merge', reasons: ['auto: earned, gated and inside scope'] };
  return { outcome: 'review', reasons: blockers };
}
