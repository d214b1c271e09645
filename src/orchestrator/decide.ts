/**
 * Run decisions: effective autonomy and what happens to a finished run. Pure.
 */
import { globMatcher } from '../authz/check.js';
import { autonomyRank, minAutonomy, type Autonomy } from '../definition/task.js';
import { trippedFor, type Controls } from '../evidence/projections/breakers.js';

/** Effective autonomy with the reasons for each cap. */
export interface EffectiveAutonomy {
  level: Autonomy;
  reasons: string[];
}

/** A cap on autonomy from outside trust: sensitive paths, the kill switch, a circuit breaker. */
export interface AutonomyCap {
  level: Autonomy;
  reason: string;
}

/**
 * The caps the kill switch and the circuit breakers put on an agent in a project: `hold` while halted,
 * and `hold` for each tripped breaker of that agent there.
 * @param controls the control state (projectControls)
 * @returns zero or more caps, each with its reason
 */
export function controlCaps(controls: Controls, agent: string, project: string): AutonomyCap[] {
  const caps: AutonomyCap[] = controls.halted ? [{ level: 'hold', reason: `agentctl is halted (by ${controls.halted.by}: ${controls.halted.reason})` }] : [];
  for (const t of trippedFor(controls, agent, project)) {
    caps.push({ level: 'hold', reason: `circuit breaker "${t.breaker}" tripped (${t.reason}); reset with: agentctl breakers reset ${t.breaker} --agent ${t.agent}` });
  }
  return caps;
}

/**
 * The cap a run without the OS sandbox gets: `review`, whatever was earned (its processes could reach
 * anything the user can, so nothing it does may land unreviewed).
 * @param sandbox the policy's sandbox mode and the profile that chose it
 * @returns one cap for `none`, none for `os`
 */
export function sandboxCaps(sandbox: { value: 'os' | 'none'; source: string }): AutonomyCap[] {
  return sandbox.value === 'none' ? [{ level: 'review', reason: `unsandboxed: profile "${sandbox.source}" says sandbox: none` }] : [];
}

/**
 * Effective autonomy = min(requested, earned, caps).
 * @param requested the task's level
 * @param earned the agent's earned level for this task type, with its reason
 * @param caps further caps (each with its reason)
 */
export function effectiveAutonomy(requested: Autonomy, earned: { level: Autonomy; reason: string }, caps: readonly AutonomyCap[] = []): EffectiveAutonomy {
  const level = minAutonomy(requested, earned.level, ...caps.map((c) => c.level));
  const reasons = [`requested ${requested}`];
  if (autonomyRank(earned.level) < autonomyRank(requested)) reasons.push(`capped at ${earned.level}: earned level is ${earned.level} (${earned.reason})`);
  for (const c of caps) if (autonomyRank(c.level) < autonomyRank(requested)) reasons.push(`capped at ${c.level}: ${c.reason}`);
  return { level, reasons };
}

/**
 * Which of `paths` touch a sensitive glob. Task `paths` may themselves be globs: a glob is tested by a
 * sample path made from it (`src/auth/**` → `src/auth/x`), so `**\/auth/**` catches it.
 * @returns the matching paths
 */
export function sensitiveMatches(paths: readonly string[], sensitive: readonly string[]): string[] {
  const matchers = sensitive.map(globMatcher);
  return paths.filter((p) => {
    const sample = p.replace(/\*\*/g, 'x').replace(/\*/g, 'x').replace(/\?/g, 'x');
    return matchers.some((m) => m(p) || m(sample));
  });
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
  /** Changed files matching a sensitive path. */
  sensitiveFiles: readonly string[];
  /** Why the agent escalated (asked for guidance or reported low confidence), if it did. */
  escalation?: string | undefined;
}

/** What to do with a finished run. */
export interface RunDecision {
  outcome: 'merge' | 'review' | 'failed';
  reasons: string[];
}

/**
 * Decide a finished run. `merge` only when every condition of the auto-merge invariant holds:
 * effective and earned level `auto`, agent succeeded, something changed, a gate ran and passed, the
 * diff stays inside the write scope and touches no sensitive path. Otherwise a human decides.
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
  if (f.sensitiveFiles.length > 0) blockers.push(`sensitive paths changed: ${f.sensitiveFiles.join(', ')}`);
  if (f.escalation) blockers.push(`escalated: ${f.escalation}`);
  if (blockers.length === 0) return { outcome: 'merge', reasons: ['auto: earned, gated and inside scope'] };
  return { outcome: 'review', reasons: blockers };
}

/**
 * Effective autonomy for a task before it runs: its requested level, the earned level, and the
 * sensitive-path cap from its `paths` (plus any further caps, e.g. the kill switch).
 */
export function taskAutonomy(
  task: { autonomy: Autonomy; paths: readonly string[] },
  earned: { level: Autonomy; reason: string },
  sensitivePaths: readonly string[],
  extraCaps: readonly AutonomyCap[] = [],
): EffectiveAutonomy {
  const sensitive = sensitiveMatches(task.paths, sensitivePaths);
  const caps: AutonomyCap[] = sensitive.length ? [{ level: 'review', reason: `task paths touch sensitive paths (${sensitive.join(', ')})` }] : [];
  return effectiveAutonomy(task.autonomy, earned, [...caps, ...extraCaps]);
}
