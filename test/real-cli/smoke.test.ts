/**
 * The fast subset of the real-CLI suite, part of the default `npm test`: real Claude Code × `implement`
 * against the scripted model API (a few seconds). The full matrix is test/real-cli/real-cli.test.ts.
 */
import { afterAll, expect, it } from 'vitest';
import { cleanupRealCli } from './harness.js';
import { checkCell, runMatrixCell } from './matrix.js';

afterAll(() => cleanupRealCli());

it('real Claude Code × implement does what the policy says', { timeout: 120_000 }, async () => {
  const { outcome, rows } = await runMatrixCell('claude', 'implement');
  checkCell(expect, outcome, rows);
  // Sanity: the run exercised both outcomes.
  expect(rows.some((r) => r.realHappened === true)).toBe(true);
  expect(rows.some((r) => r.realHappened === false)).toBe(true);
});
