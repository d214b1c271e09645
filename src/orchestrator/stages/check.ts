/**
 * Stage "check": every change the run made is held against the policy's write scope and what the
 * changed file really is (event `scope.violation` per finding).
 */
import type { Captured } from './capture.js';
import type { Emit } from './types.js';

/** One finding of the scope check. */
export interface Violation {
  path: string;
  reason: string;
  protected: boolean;
}

/**
 * Check the captured change.
 * @returns the violations (each also recorded)
 */
export function checkRun(captured: Captured, emit: Emit): Violation[] {
  // The inspection (exec/inspect.ts, rules in authz/inspect-rules.ts) ran at capture, on the commit.
  const violations = captured.violations;
  emit(violations.map((v) => ({ type: 'scope.violation' as const, payload: { ...v } })));
  return violations;
}
