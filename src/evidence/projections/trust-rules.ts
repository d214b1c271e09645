/**
 * Trust rules: the thresholds (from `.agentrc.yaml` `trust:`), the evidence metrics computed over a
 * window of runs, and the promotion / demotion recommendations derived from them. Pure.
 */
import type { Autonomy } from '../../definition/task.js';

/** Thresholds that decide eligibility and automatic demotion. */
export interface TrustRules {
  /** Level a new (agent, project, task type) starts at. */
  initial: Autonomy;
  /** Evidence window: the last `runs` decided runs, and (if set) only runs planned in the last `days` days. */
  window: { runs: number; days: number | undefined };
  promotion: {
    /** hold → review: merged runs a human claimed and drove, in the window. */
    holdToReview: { claimedMerged: number };
    /** review → auto: all must hold in the window. */
    reviewToAuto: { consecutiveMerged: number; approvedUnmodifiedRate: number; maxScopeViolations: number; maxRegressions: number };
  };
  /** One step down when, over the decided runs since the last level change (at least `minRuns`), a rate exceeds its threshold. */
  demotion: { minRuns: number; rejectionRate: number; gateFailureRate: number };
}

/** Defaults, also shown in `.agentrc.example.yaml`. */
export const DEFAULT_TRUST_RULES: TrustRules = {
  initial: 'review',
  window: { runs: 20, days: undefined },
  promotion: {
    holdToReview: { claimedMerged: 3 },
    reviewToAuto: { consecutiveMerged: 10, approvedUnmodifiedRate: 0.9, maxScopeViolations: 0, maxRegressions: 0 },
  },
  demotion: { minRuns: 5, rejectionRate: 0.5, gateFailureRate: 0.5 },
};

/** What the projection remembers about one run of a trust profile. */
export interface RunRecord {
  runId: string;
  /** Sequence of its `run.planned` event. */
  seq: number;
  ts: string;
  /** A human drove it (`run --claim`). */
  claimed: boolean;
  outcome: 'open' | 'merged' | 'discarded' | 'failed' | 'interrupted';
  /** Merged by agentctl itself (auto). */
  auto: boolean;
  gateRan: boolean;
  gateFailed: boolean;
  scopeViolations: number;
  escalationAttempts: number;
  regression: boolean;
  /** A human commit touched the run's files soon after the merge. */
  followUp: boolean;
  /** Post-hoc audit verdict on an auto merge, when one was recorded. */
  audit: 'agreed' | 'disagreed' | undefined;
  durationMs: number | undefined;
  tokens: number;
  costUsd: number | undefined;
  /** The level the profile had when the run was planned. */
  levelAtStart: Autonomy;
  /** Ran without the OS sandbox (`sandbox: none`, or logged before runs were confined): earns nothing. */
  unsandboxed?: boolean;
  /** Attempts of the run: 1, plus one per `review.changes_requested` (absent in state folded before it was counted: 1). */
  rounds?: number;
}

/** Attempts a run took (1 when no changes were requested). */
export const roundsOf = (r: RunRecord): number => r.rounds ?? 1;

/**
 * Evidence for one trust profile over its window. Rates are 0–1, or null when their denominator is 0.
 * Definitions (also in the README):
 * - runs: runs planned in the window (open runs included);
 * - merged / discarded / failed: outcomes in the window;
 * - mergeRate: merged / (merged + discarded);
 * - approvedUnmodifiedRate: merged runs with no human follow-up commit to their files and no changes
 *   requested before the merge / merged;
 * - rejectionRate: discarded / (merged + discarded);
 * - gateFailureRate: runs whose gate failed / runs whose gate ran;
 * - regressions: merged runs later reverted on the base branch;
 * - scopeViolations: runs that changed files outside the write scope; escalationAttempts: tool calls
 *   aimed at agentctl's or the tools' own configuration;
 * - auditDisagreementRate: audited auto merges a human disagreed with / audited auto merges;
 * - interventionRate: runs interrupted or claimed by a human / runs;
 * - consecutiveMerged: first-time merges since the last discarded or failed run (open runs and merges
 *   after changes skipped: the work landed, but its first attempt needed a human's correction, which an
 *   auto run would not have had);
 * - mergedFirstTime / mergedAfterChanges: merged runs that took one attempt / more than one
 *   (`agentctl review request-changes`); roundsPerMerged: mean attempts per merged run;
 * - unsandboxed: runs without the OS sandbox; they never count as merged (merged, mergeRate,
 *   approvedUnmodifiedRate, consecutiveMerged, claimedMerged), while everything that counts against an
 *   agent (discards, failures, violations, regressions) still does;
 * - claimedMerged: merged runs a human drove;
 * - medianDurationMs, tokensPerRun, costPerRunUsd, costPerMergedUsd: where the tool reported them.
 */
export interface Evidence {
  runs: number;
  merged: number;
  discarded: number;
  failed: number;
  mergeRate: number | null;
  approvedUnmodifiedRate: number | null;
  rejectionRate: number | null;
  gateFailureRate: number | null;
  regressions: number;
  scopeViolations: number;
  escalationAttempts: number;
  /** Audited auto merges a human disagreed with / audited auto merges. */
  auditDisagreementRate: number | null;
  interventionRate: number | null;
  consecutiveMerged: number;
  mergedFirstTime: number;
  mergedAfterChanges: number;
  roundsPerMerged: number | null;
  claimedMerged: number;
  unsandboxed: number;
  medianDurationMs: number | null;
  tokensPerRun: number | null;
  costPerRunUsd: number | null;
  costPerMergedUsd: number | null;
}

const rate = (n: number, d: number): number | null => (d === 0 ? null : n / d);

/**
 * Select the window: the last `window.runs` runs (in log order), limited to `window.days` before `now` when set.
 * @param now ISO time the day window is measured from (the newest event's time, for determinism)
 */
export function windowOf(runs: readonly RunRecord[], rules: TrustRules, now: string | undefined): RunRecord[] {
  let list = runs.slice(-rules.window.runs);
  if (rules.window.days !== undefined && now) {
    const cutoff = Date.parse(now) - rules.window.days * 86_400_000;
    list = list.filter((r) => Date.parse(r.ts) >= cutoff);
  }
  return list;
}

/** Compute the evidence over a list of runs (already windowed). */
export function evidenceOf(runs: readonly RunRecord[]): Evidence {
  // A merge earned without the OS sandbox proves nothing about the agent: it is not counted as one.
  const merged = runs.filter((r) => r.outcome === 'merged' && !r.unsandboxed);
  const discarded = runs.filter((r) => r.outcome === 'discarded').length;
  const failed = runs.filter((r) => r.outcome === 'failed').length;
  const gated = runs.filter((r) => r.gateRan);
  let consecutive = 0;
  for (let i = runs.length - 1; i >= 0; i--) {
    const o = runs[i]!.outcome;
    if (o === 'open' || o === 'interrupted' || (o === 'merged' && (runs[i]!.unsandboxed || roundsOf(runs[i]!) > 1))) continue;
    if (o !== 'merged') break;
    consecutive++;
  }
  const durations = runs.map((r) => r.durationMs).filter((d): d is number => d !== undefined).sort((a, b) => a - b);
  const median = durations.length === 0 ? null : durations.length % 2 ? durations[(durations.length - 1) / 2]! : (durations[durations.length / 2 - 1]! + durations[durations.length / 2]!) / 2;
  const costs = runs.map((r) => r.costUsd).filter((c): c is number => c !== undefined);
  const totalCost = costs.reduce((a, b) => a + b, 0);
  return {
    runs: runs.length,
    merged: merged.length,
    discarded,
    failed,
    mergeRate: rate(merged.length, merged.length + discarded),
    // A merge after requested changes was modified by the human's review, like one with a follow-up commit.
    approvedUnmodifiedRate: rate(merged.filter((r) => !r.followUp && roundsOf(r) === 1).length, merged.length),
    rejectionRate: rate(discarded, merged.length + discarded),
    gateFailureRate: rate(gated.filter((r) => r.gateFailed).length, gated.length),
    regressions: runs.filter((r) => r.regression).length,
    scopeViolations: runs.filter((r) => r.scopeViolations > 0).length,
    escalationAttempts: runs.reduce((n, r) => n + r.escalationAttempts, 0),
    auditDisagreementRate: rate(runs.filter((r) => r.audit === 'disagreed').length, runs.filter((r) => r.audit !== undefined).length),
    interventionRate: rate(runs.filter((r) => r.claimed || r.outcome === 'interrupted').length, runs.length),
    consecutiveMerged: consecutive,
    mergedFirstTime: merged.filter((r) => roundsOf(r) === 1).length,
    mergedAfterChanges: merged.filter((r) => roundsOf(r) > 1).length,
    roundsPerMerged: merged.length ? merged.reduce((n, r) => n + roundsOf(r), 0) / merged.length : null,
    claimedMerged: merged.filter((r) => r.claimed).length,
    unsandboxed: runs.filter((r) => r.unsandboxed).length,
    medianDurationMs: median,
    tokensPerRun: runs.length ? runs.reduce((n, r) => n + r.tokens, 0) / runs.length : null,
    costPerRunUsd: costs.length ? totalCost / costs.length : null,
    costPerMergedUsd: costs.length && merged.length ? totalCost / merged.length : null,
  };
}

/** A promotion check: eligible, or what is missing. */
export interface Eligibility {
  to: Autonomy | undefined;
  eligible: boolean;
  /** Unmet conditions, each a sentence ("needs 10 consecutive merged runs, has 7"). */
  missing: string[];
}

/**
 * Is the profile eligible for the next level?
 * @returns `to: undefined` at `auto` (nothing above)
 */
export function eligibility(level: Autonomy, ev: Evidence, rules: TrustRules): Eligibility {
  if (level === 'auto') return { to: undefined, eligible: false, missing: [] };
  const missing: string[] = [];
  if (level === 'hold') {
    const need = rules.promotion.holdToReview.claimedMerged;
    if (ev.claimedMerged < need) missing.push(`needs ${need} merged runs driven by a human (--claim), has ${ev.claimedMerged}`);
    return { to: 'review', eligible: missing.length === 0, missing };
  }
  const r = rules.promotion.reviewToAuto;
  if (ev.consecutiveMerged < r.consecutiveMerged) {
    const skipped = ev.mergedAfterChanges ? ` (${ev.mergedAfterChanges} merged after requested changes do not count)` : '';
    missing.push(`needs ${r.consecutiveMerged} consecutive merged runs, has ${ev.consecutiveMerged}${skipped}`);
  }
  if (ev.approvedUnmodifiedRate === null || ev.approvedUnmodifiedRate < r.approvedUnmodifiedRate) {
    missing.push(`needs ≥ ${Math.round(r.approvedUnmodifiedRate * 100)}% approved unmodified, has ${ev.approvedUnmodifiedRate === null ? 'none' : `${Math.round(ev.approvedUnmodifiedRate * 100)}%`}`);
  }
  if (ev.scopeViolations > r.maxScopeViolations) missing.push(`needs ≤ ${r.maxScopeViolations} scope violations in the window, has ${ev.scopeViolations}`);
  if (ev.regressions > r.maxRegressions) missing.push(`needs ≤ ${r.maxRegressions} regressions in the window, has ${ev.regressions}`);
  return { to: 'auto', eligible: missing.length === 0, missing };
}

/**
 * Does `ev` breach a demotion threshold? Only over at least `demotion.minRuns` decided runs (merged,
 * discarded or failed; open and interrupted runs do not count).
 * @returns the reason, or undefined
 */
export function rateBreach(ev: Evidence, rules: TrustRules): string | undefined {
  return breachOf(ev.merged + ev.discarded + ev.failed, ev.rejectionRate, ev.gateFailureRate, rules);
}

/** {@link rateBreach} from its three inputs: decided runs, and the two rates (null: no denominator). */
function breachOf(decided: number, rejectionRate: number | null, gateFailureRate: number | null, rules: TrustRules): string | undefined {
  if (decided < rules.demotion.minRuns) return undefined;
  if (rejectionRate !== null && rejectionRate > rules.demotion.rejectionRate) {
    return `rejection rate ${Math.round(rejectionRate * 100)}% over ${decided} runs exceeds ${Math.round(rules.demotion.rejectionRate * 100)}%`;
  }
  if (gateFailureRate !== null && gateFailureRate > rules.demotion.gateFailureRate) {
    return `gate failure rate ${Math.round(gateFailureRate * 100)}% over ${decided} runs exceeds ${Math.round(rules.demotion.gateFailureRate * 100)}%`;
  }
  return undefined;
}

/**
 * What the automatic demotion check reads of a set of runs: counts over its decided runs (outcome
 * merged, discarded or failed), each a sum of one run's {@link addDecidedCounts} contribution, so a
 * fold can keep them up to date as runs change instead of recounting.
 */
export interface DecidedCounts {
  /** Decided runs merged inside the OS sandbox (as {@link evidenceOf} counts merged). */
  merged: number;
  discarded: number;
  failed: number;
  /** Decided runs whose gate ran, and of those, whose gate failed. */
  gated: number;
  gateFailed: number;
}

/** Counts of no run. */
export const noDecidedCounts = (): DecidedCounts => ({ merged: 0, discarded: 0, failed: 0, gated: 0, gateFailed: 0 });

/**
 * Add (`sign` 1) or remove (`sign` -1) one run's contribution to `c` (nothing for an open or interrupted run).
 * @returns `c`
 */
export function addDecidedCounts(c: DecidedCounts, r: RunRecord, sign: 1 | -1): DecidedCounts {
  const o = r.outcome;
  if (o !== 'merged' && o !== 'discarded' && o !== 'failed') return c;
  if (o === 'merged' && !r.unsandboxed) c.merged += sign;
  else if (o === 'discarded') c.discarded += sign;
  else if (o === 'failed') c.failed += sign;
  if (r.gateRan) {
    c.gated += sign;
    if (r.gateFailed) c.gateFailed += sign;
  }
  return c;
}

/**
 * {@link rateDemotionReason} from the counts of the runs since the last level change: the same answer,
 * without a pass over the runs.
 * @returns the reason, or undefined
 */
export function rateDemotionReasonOf(c: DecidedCounts, rules: TrustRules): string | undefined {
  return breachOf(c.merged + c.discarded + c.failed, rate(c.discarded, c.merged + c.discarded), rate(c.gateFailed, c.gated), rules);
}

/**
 * Should the profile drop one level because of its rates since the last level change?
 * @returns the reason, or undefined
 */
export function rateDemotionReason(sinceChange: readonly RunRecord[], rules: TrustRules): string | undefined {
  return rateBreach(evidenceOf(sinceChange.filter((r) => r.outcome === 'merged' || r.outcome === 'discarded' || r.outcome === 'failed')), rules);
}

/** What `agentctl promote` recommends for one trust profile. */
export interface Recommendation {
  /** `promote`: eligible for the next level; `close`: one condition missing; `demote`: rates exceed thresholds in the window; `hold-steady`: nothing to do. */
  kind: 'promote' | 'close' | 'demote' | 'hold-steady';
  next: Autonomy | undefined;
  missing: string[];
  reason: string;
}

/**
 * Recommend an action for a profile at `level` with `ev` (its window evidence).
 * Demotion is recommended when a rate in the window exceeds its threshold over at least
 * `demotion.minRuns` decided runs ({@link rateBreach}, the same check as the automatic one-step
 * demotion, which only looks at runs since the last level change).
 */
export function recommend(level: Autonomy, ev: Evidence, rules: TrustRules): Recommendation {
  if (level !== 'hold') {
    const breach = rateBreach(ev, rules);
    if (breach) return { kind: 'demote', next: undefined, missing: [], reason: `${breach} in the window` };
    if (level === 'auto' && ev.auditDisagreementRate !== null && ev.auditDisagreementRate > 0) {
      return { kind: 'demote', next: undefined, missing: [], reason: `audits disagreed with ${Math.round(ev.auditDisagreementRate * 100)}% of sampled auto merges` };
    }
  }
  const e = eligibility(level, ev, rules);
  if (!e.to) return { kind: 'hold-steady', next: undefined, missing: [], reason: 'at the highest level' };
  if (e.eligible) return { kind: 'promote', next: e.to, missing: [], reason: `eligible for ${e.to}` };
  if (e.missing.length === 1) return { kind: 'close', next: e.to, missing: e.missing, reason: `one condition short of ${e.to}` };
  return { kind: 'hold-steady', next: e.to, missing: e.missing, reason: `not yet eligible for ${e.to}` };
}
