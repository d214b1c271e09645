/**
 * The full matrix: every real CLI × every built-in profile × every scripted action, against the policy.
 * Slow (a dozen CLI runs); run with `npm run test:real` or `npx vitest run test/real-cli`. Writes the
 * table to /tmp/research/real-cli-table.md (or $AGENTCTL_REAL_CLI_TABLE) and prints it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRealCli, ROOT } from './harness.js';
import { checkCell, markdownTable, PROFILES, runMatrixCell, TOOLS, writeTable, type Row } from './matrix.js';

const rows: Row[] = [];
const started = Date.now();
const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

afterAll(() => {
  cleanupRealCli();
  if (rows.length === 0) return;
  const markdown = markdownTable(rows, {
    versions: { '@anthropic-ai/claude-code': version('@anthropic-ai/claude-code'), '@google/gemini-cli': version('@google/gemini-cli'), '@openai/codex': version('@openai/codex') },
    durationMs: Date.now() - started,
  });
  const path = writeTable(markdown);
  process.stdout.write(`\n${markdown}\n(written to ${path})\n`);
});

for (const tool of TOOLS) {
  describe(`real ${tool} CLI`, () => {
    for (const profile of PROFILES) {
      it(`${tool} × ${profile}: every scripted action does what the policy says (or the known mismatch)`, { timeout: 240_000 }, async () => {
        const { outcome, rows: cellRows } = await runMatrixCell(tool, profile);
        rows.push(...cellRows);
        checkCell(expect, outcome, cellRows);
      });
    }
  });
}
