/**
 * Stage "decide": breakers look at the finished run, trust and the controls are read again (a trip or a
 * demotion during the run must stop an auto merge), and the run's outcome is decided (event `run.decided`).
 */
import { minAutonomy } from '../../definition/task.js';
import { earnedLevel } from '../../evidence/projections/trust.js';
import { controlsOf, trustOf, type Context } from '../context.js';
import { controlCaps, decideRun, sensitiveMatches, type RunDecision } from '../decide.js';
import { recordTrips } from '../guard.js';
import type { Captured } from './capture.js';
import type { LaunchOutcome } from './launch.js';
import type { Emit, PreparedRun } from './types.js';

/** The facts the decision used besides the launch outcome. */
export interface Checked {
  violations: number;
  gatePassed: boolean | undefined;
  /** Escalations recorded against git itself (pointer, control files) during the run or its gate. */
  gitEscalations: number;
}

/**
 * Decide the run's outcome.
 * @returns the decision and the stored `run.decided` event (undefined if nothing was stored)
 */
export async function decideStage(ctx: Context, run: PreparedRun, launched: LaunchOutcome, captured: Captured, checked: Checked, emit: Emit): Promise<{ decision: RunDecision; decided: ReturnType<Emit>[number] | undefined }> {
  const { task, effective } = run.plan;
  const cfg = ctx.project.config;
  await recordTrips(ctx, task.agent);
  const controls = controlsOf(ctx);
  const earnedNow = earnedLevel(await trustOf(ctx), cfg.trust, task.agent, cfg.project, task.type);
  const { report } = launched;
  const decision = decideRun({
    effective: minAutonomy(effective.level, earnedNow.level, ...controlCaps(controls, task.agent, cfg.project).map((c) => c.level)),
    earned: earnedNow.level,
    agentSucceeded: launched.agentOk || launched.asked,
    changedFiles: captured.files.length,
    gatePassed: checked.gatePassed,
    scopeViolations: checked.violations,
    sensitiveFiles: sensitiveMatches(captured.files.map((f) => f.path), cfg.sensitivePaths),
    escalation: launched.asked ? report.stop!.reason : checked.gitEscalations ? 'the agent changed git itself (the worktree pointer or the common .git); it was put back' : report.minConfidence < cfg.protocol.escalateBelow ? `the agent reported confidence ${report.minConfidence} (below ${cfg.protocol.escalateBelow})` : undefined,
  });
  const [decided] = emit([{ type: 'run.decided', payload: { outcome: decision.outcome, reasons: decision.reasons } }]);
  return { decision, decided };
}
