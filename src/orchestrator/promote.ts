/**
 * Promotions: a human raises an agent's earned level for one task type in this project, one step at a
 * time, and the decision is stored with the evidence snapshot it was based on.
 */
import { InputError } from '../core/errors.js';
import { AGENT_NAMES, AUTONOMY_LEVELS, TASK_TYPE_PATTERN, autonomyRank, type AgentName, type Autonomy } from '../definition/task.js';
import type { StoredEvent } from '../evidence/events.js';
import { earnedLevel, trustKey, type Evidence } from '../evidence/projections/trust.js';
import { trustOf, type Context } from './context.js';

/** A promotion request. */
export interface PromotionRequest {
  agent: string;
  taskType: string;
  to: string;
  by: string;
  note: string | undefined;
}

/**
 * Record a promotion.
 * @returns the stored `trust.promoted` event
 * @throws InputError for an unknown agent or level, a malformed type, or a jump of more than one level
 *   or not upwards
 */
export function promote(ctx: Context, req: PromotionRequest): StoredEvent {
  if (!(AGENT_NAMES as readonly string[]).includes(req.agent)) {
    throw new InputError(`unknown agent "${req.agent}" (one of ${AGENT_NAMES.join(', ')})`, { field: 'agent' });
  }
  if (!TASK_TYPE_PATTERN.test(req.taskType)) throw new InputError(`--type "${req.taskType}" is not a task type (^[a-z0-9][a-z0-9-]{0,31}$)`, { field: '--type' });
  if (req.to !== 'review' && req.to !== 'auto') throw new InputError(`--to must be review or auto, not "${req.to}"`, { field: '--to' });
  const cfg = ctx.project.config;
  const profiles = trustOf(ctx);
  const current = earnedLevel(profiles, req.agent, cfg.project, req.taskType, cfg.trustInitial).level;
  const to = req.to as Autonomy;
  if (autonomyRank(to) <= autonomyRank(current)) {
    throw new InputError(`${req.agent} is already at ${current} for "${req.taskType}" tasks; promotions only go up`, { field: '--to' });
  }
  if (autonomyRank(to) - autonomyRank(current) > 1) {
    const next = AUTONOMY_LEVELS[autonomyRank(current) + 1]!;
    throw new InputError(`levels rise one step at a time: ${req.agent} is at ${current} for "${req.taskType}"; promote to ${next} first`, { field: '--to' });
  }
  const evidence: Evidence | undefined = profiles.get(trustKey(req.agent, cfg.project, req.taskType))?.evidence;
  const [event] = ctx.store.append({
    type: 'trust.promoted',
    agent: req.agent as AgentName,
    project: cfg.project,
    taskType: req.taskType,
    payload: {
      agent: req.agent,
      project: cfg.project,
      taskType: req.taskType,
      from: current,
      to,
      by: req.by,
      note: req.note ?? null,
      evidence: evidence ?? { runs: 0, merged: 0, discarded: 0, mergeRate: null, gateFailures: 0, scopeViolations: 0, failed: 0 },
    },
  });
  return event!;
}
