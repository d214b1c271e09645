/**
 * Stage "check": every change the run made is held against the policy's write scope and what the
 * changed file really is (event `scope.violation` per finding).
 */
import { scopeViolations } from '../../authz/check.js';
import { symlinksOutside } from '../../exec/worktree.js';
import type { Context } from '../context.js';
import type { Captured } from './capture.js';
import type { Emit, PreparedRun } from './types.js';

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
export async function checkRun(ctx: Context, run: PreparedRun, captured: Captured, emit: Emit): Promise<Violation[]> {
  const { plan } = run;
  const changed = captured.headSha !== plan.baseSha;
  const violations: Violation[] = [
    ...scopeViolations(plan.policy, captured.files.map((f) => f.path)).map((v) => ({ path: v.path, reason: v.reason, protected: v.protected })),
    ...(changed ? await symlinksOutside(ctx.git, plan.worktree, plan.baseSha, captured.headSha) : []).map((l) => ({ path: l.path, reason: `symbolic link pointing outside the worktree (${l.target})`, protected: false })),
  ];
  emit(violations.map((v) => ({ type: 'scope.violation' as const, payload: { ...v } })));
  return violations;
}
