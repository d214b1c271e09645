/**
 * Stage "check": every change the run made is held against the policy's write scope and what the
 * changed file really is (event `scope.violation` per finding).
 */
import { leadingWithin } from '../../core/quota.js';
import { MAX_RECORDED_PATH_CHARS, type Captured } from './capture.js';
import type { Emit } from './types.js';

/** One finding of the scope check. */
export interface Violation {
  path: string;
  reason: string;
  protected: boolean;
}

/**
 * Most violations recorded one by one (a `scope.violation` event each): 1,000, of at most
 * {@link MAX_RECORDED_PATH_CHARS} characters of paths and reasons in all. An agent that writes 50,000 files
 * outside its scope would otherwise add 50,000 events, and every reader of the run would hold them; the
 * last one recorded carries how many more there are (`more`).
 */
export const MAX_RECORDED_VIOLATIONS = 1000;

/**
 * Check the captured change.
 * @returns every violation (at most {@link MAX_RECORDED_VIOLATIONS} recorded one by one, the count of the
 *   rest on the last one recorded)
 */
export function checkRun(captured: Captured, emit: Emit): Violation[] {
  // The inspection (exec/inspect.ts, rules in authz/inspect-rules.ts) ran at capture, on the commit.
  const violations = captured.violations;
  const recorded = leadingWithin(violations, MAX_RECORDED_VIOLATIONS, MAX_RECORDED_PATH_CHARS, (v) => v.path.length + v.reason.length);
  const more = violations.length - recorded.length;
  emit(recorded.map((v, i) => ({ type: 'scope.violation' as const, payload: { ...v, ...(more > 0 && i === recorded.length - 1 ? { more } : {}) } })));
  return violations;
}
