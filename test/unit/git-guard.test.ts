/** Which changes to the common .git's control files are other runs' ordinary churn (pure). */
import { describe, expect, it } from 'vitest';
import { othersChurn } from '../../src/orchestrator/stages/gitGuard.js';

const own = 't-01m8kxf3vecscentm3m530z4bn';
const other = 't12-01m8kxf4cnkbg6cbx0fxz91r4z';
const change = (path: string, worktree: string | undefined) => ({ path, change: 'added' as const, detail: 'new', worktree });

describe('othersChurn', () => {
  it('ignores another run worktree being made file by file, or removed', () => {
    expect(othersChurn(change(`worktrees/${other}/commondir`, other), own)).toBe(true);
    expect(othersChurn(change(`worktrees/${other}/gitdir`, other), own)).toBe(true);
    expect(othersChurn(change(`worktrees/${other}`, other), own)).toBe(true);
  });

  it('reports changes to the run itself, to the config and hooks, and to a worktree of the user', () => {
    expect(othersChurn(change(`worktrees/${own}/config.worktree`, own), own)).toBe(false);
    expect(othersChurn(change('config', undefined), own)).toBe(false);
    expect(othersChurn(change('hooks/post-merge', undefined), own)).toBe(false);
    expect(othersChurn(change('worktrees/feature-x/gitdir', 'feature-x'), own)).toBe(false);
    expect(othersChurn(change('worktrees/feature-x', 'feature-x'), own)).toBe(true);
  });
});
