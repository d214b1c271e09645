/**
 * The trust projection: evidence and earned autonomy per (agent, project, task type), folded from
 * the event log. Pure; rebuildable from zero at any time.
 *
 * Levels start at `trust.initial` (default `review`) and change only through `trust.promoted` events
 * (a recorded human decision). An event type this version does not know fails closed: that profile's
 * level falls to `hold` with a reason, because evidence it cannot read might be a demotion.
 */
import { EVENT_TYPES, type StoredEvent } from '../events.js';
import type { Autonomy } from '../../definition/task.js';

/** Metrics for one (agent, project, task type). Rates are 0–1, or null with no decided runs. */
export interface Evidence {
  runs: number;
  merged: number;
  discarded: number;
  /** merged / (merged + discarded). */
  mergeRate: number | null;
  gateFailures: number;
  scopeViolations: number;
  failed: number;
}

/** One trust profile. */
export interface TrustProfile {
  agent: string;
  project: string;
  taskType: string;
  level: Autonomy;
  evidence: Evidence;
  /** Why the level is what it is (last promotion, fail-closed reason). */
  reason: string;
  history: { seq: number; ts: string; from: Autonomy; to: Autonomy; by: string; note: string | undefined; evidence: Evidence }[];
}

/** Key of a trust profile in the projection map. */
export function trustKey(agent: string, project: string, taskType: string): string {
  return `${agent}\u0000${project}\u0000${taskType}`;
}

function emptyEvidence(): Evidence {
  return { runs: 0, merged: 0, discarded: 0, mergeRate: null, gateFailures: 0, scopeViolations: 0, failed: 0 };
}

/**
 * Fold events into trust profiles.
 * @param events events in sequence order
 * @param initial the level a new (agent, task type) starts at
 * @returns profiles keyed by {@link trustKey}
 */
export function projectTrust(events: Iterable<StoredEvent>, initial: Autonomy): Map<string, TrustProfile> {
  const profiles = new Map<string, TrustProfile>();
  const runKey = new Map<string, string>();
  const get = (agent: string, project: string, taskType: string): TrustProfile => {
    const key = trustKey(agent, project, taskType);
    let p = profiles.get(key);
    if (!p) {
      p = { agent, project, taskType, level: initial, evidence: emptyEvidence(), reason: `initial level (trust.initial: ${initial})`, history: [] };
      profiles.set(key, p);
    }
    return p;
  };
  for (const e of events) {
    const known = (EVENT_TYPES as Record<string, number>)[e.type];
    if (known === undefined || e.version > known) {
      if (e.agent && e.project && e.taskType) {
        const p = get(e.agent, e.project, e.taskType);
        p.level = 'hold';
        p.reason = `fail-closed: event #${e.seq} has unknown type or version (${e.type} v${e.version}); upgrade agentctl`;
      }
      continue;
    }
    if (e.type === 'trust.promoted') {
      const p = get(String(e.payload.agent), String(e.payload.project), String(e.payload.taskType));
      const to = e.payload.to as Autonomy;
      p.history.push({ seq: e.seq, ts: e.ts, from: p.level, to, by: String(e.payload.by ?? ''), note: e.payload.note as string | undefined, evidence: { ...p.evidence } });
      p.level = to;
      p.reason = `promoted to ${to} by ${String(e.payload.by ?? 'a human')} (event #${e.seq})`;
      continue;
    }
    if (!e.runId) continue;
    if (e.type === 'run.planned' && e.agent && e.project && e.taskType) {
      runKey.set(e.runId, trustKey(e.agent, e.project, e.taskType));
      get(e.agent, e.project, e.taskType).evidence.runs++;
      continue;
    }
    const key = runKey.get(e.runId);
    const p = key ? profiles.get(key) : undefined;
    if (!p) continue;
    const ev = p.evidence;
    switch (e.type) {
      case 'run.merged':
        ev.merged++;
        break;
      case 'run.discarded':
        ev.discarded++;
        break;
      case 'gate.failed':
        ev.gateFailures++;
        break;
      case 'scope.violation':
        ev.scopeViolations++;
        break;
      case 'run.failed':
        ev.failed++;
        break;
      default:
        break;
    }
    const decided = ev.merged + ev.discarded;
    ev.mergeRate = decided === 0 ? null : ev.merged / decided;
  }
  return profiles;
}

/** The earned level for one (agent, project, task type): its projection's level, else `initial`. */
export function earnedLevel(profiles: ReadonlyMap<string, TrustProfile>, agent: string, project: string, taskType: string, initial: Autonomy): { level: Autonomy; reason: string } {
  const p = profiles.get(trustKey(agent, project, taskType));
  return p ? { level: p.level, reason: p.reason } : { level: initial, reason: `initial level (trust.initial: ${initial})` };
}
