/**
 * Human trust decisions: promotions (one step up, recorded with the evidence snapshot the human saw,
 * and only when eligible unless forced) and manual demotions (any step down, history kept).
 */
import { InputError } from '../core/errors.js';
import { assertOutsideRun } from '../core/humanOnly.js';
import { AGENT_NAMES, AUTONOMY_LEVELS, TASK_TYPE_PATTERN, autonomyRank, type Autonomy } from '../definition/task.js';
import type { StoredEvent } from '../evidence/events.js';
import { earnedLevel, profileEvidence, trustKey } from '../evidence/projections/trust.js';
import { eligibility, evidenceOf } from '../evidence/projections/trust-rules.js';
import { currentHost, trustOf, type Context } from './context.js';

/** A promotion or demotion request from the CLI. */
export interface TrustDecisionRequest {
  agent: string;
  taskType: string;
  /** Target level (for demote: default one step down). */
  to: string | undefined;
  by: string;
  /** Why (promotion note or demotion reason). */
  note: string | undefined;
  /** Promote although the evidence does not meet the rules (recorded as forced). */
  force?: boolean;
}

function checkSubject(req: TrustDecisionRequest): void {
  if (!(AGENT_NAMES as readonly string[]).includes(req.agent)) {
    throw new InputError(`unknown agent "${req.agent}" (one of ${AGENT_NAMES.join(', ')})`, { field: 'agent' });
  }
  if (!TASK_TYPE_PATTERN.test(req.taskType)) throw new InputError(`--type "${req.taskType}" is not a task type (^[a-z0-9][a-z0-9-]{0,31}$)`, { field: '--type' });
}

/**
 * Record a promotion one level up.
 * @returns the stored `trust.promoted` event
 * @throws StateError when called from inside a run (AGENTCTL_RUN_ID in `ctx.env`)
 * @throws InputError for an unknown agent or level, a malformed type, a jump of more than one level,
 *   a level that is not higher, or evidence that does not meet the rules (without `force`)
 */
export async function promote(ctx: Context, req: TrustDecisionRequest): Promise<StoredEvent> {
  assertOutsideRun('promote', ctx.env);
  checkSubject(req);
  if (req.to !== 'review' && req.to !== 'auto') throw new InputError(`--to must be review or auto, not "${String(req.to)}"`, { field: '--to' });
  const cfg = ctx.project.config;
  const state = await trustOf(ctx);
  const current = earnedLevel(state, cfg.trust, req.agent, cfg.project, req.taskType).level;
  const to = req.to as Autonomy;
  if (autonomyRank(to) <= autonomyRank(current)) {
    throw new InputError(`${req.agent} is already at ${current} for "${req.taskType}" tasks; promotions only go up`, { field: '--to' });
  }
  if (autonomyRank(to) - autonomyRank(current) > 1) {
    const next = AUTONOMY_LEVELS[autonomyRank(current) + 1]!;
    throw new InputError(`levels rise one step at a time: ${req.agent} is at ${current} for "${req.taskType}"; promote to ${next} first`, { field: '--to' });
  }
  const profile = state.profiles[trustKey(req.agent, cfg.project, req.taskType)];
  const evidence = profile ? profileEvidence(profile, cfg.trust, state.lastTs) : evidenceOf([]);
  const check = eligibility(current, evidence, cfg.trust);
  if (!check.eligible && !req.force) {
    throw new InputError(`${req.agent} is not eligible for ${to} on "${req.taskType}" tasks: ${check.missing.join('; ')}`, {
      field: '--to',
      hint: 'Run more tasks of this type, or record an exception with --force and a --note saying why.',
    });
  }
  const [event] = ctx.store.append({
    type: 'trust.promoted',
    agent: req.agent,
    project: cfg.project,
    taskType: req.taskType,
    payload: { agent: req.agent, project: cfg.project, taskType: req.taskType, from: current, to, by: req.by, host: currentHost(), note: req.note ?? null, forced: !check.eligible, missing: check.missing, evidence: { ...evidence } },
  });
  return event!;
}

/**
 * Record a manual demotion (default: one step down).
 * @throws StateError when called from inside a run (AGENTCTL_RUN_ID in `ctx.env`)
 * @throws InputError when the target is not lower than the current level
 */
export async function demote(ctx: Context, req: TrustDecisionRequest): Promise<StoredEvent> {
  assertOutsideRun('demote', ctx.env);
  checkSubject(req);
  if (!req.note) throw new InputError('--reason is required: say why, it is kept with the evidence', { field: '--reason' });
  const cfg = ctx.project.config;
  const state = await trustOf(ctx);
  const current = earnedLevel(state, cfg.trust, req.agent, cfg.project, req.taskType).level;
  const to = (req.to ?? AUTONOMY_LEVELS[Math.max(0, autonomyRank(current) - 1)]) as Autonomy;
  if (!(AUTONOMY_LEVELS as readonly string[]).includes(to)) throw new InputError(`--to must be hold, review or auto, not "${to}"`, { field: '--to' });
  if (autonomyRank(to) >= autonomyRank(current)) {
    throw new InputError(`${req.agent} is at ${current} for "${req.taskType}" tasks; a demotion must go lower`, { field: '--to' });
  }
  const profile = state.profiles[trustKey(req.agent, cfg.project, req.taskType)];
  const evidence = profile ? profileEvidence(profile, cfg.trust, state.lastTs) : evidenceOf([]);
  const [event] = ctx.store.append({
    type: 'trust.demoted',
    agent: req.agent,
    project: cfg.project,
    taskType: req.taskType,
    payload: { agent: req.agent, project: cfg.project, taskType: req.taskType, from: current, to, by: req.by, host: currentHost(), reason: req.note, evidence: { ...evidence } },
  });
  return event!;
}
