import { spawnSync } from 'node:child_process';
import { configDefaults, defineConfig } from 'vitest/config';

// The full real-CLI matrix (test/real-cli/real-cli.test.ts) is slow: it runs only when named on the
// command line (`npm run test:real`, `vitest run test/real-cli`). `npm test` keeps its fast subset
// (test/real-cli/smoke.test.ts).
const REAL_CLI_MATRIX = 'test/real-cli/real-cli.test.ts';
const wantsRealCli = process.argv.slice(2).some((arg) => arg.includes('real-cli'));

// Every agent run needs the OS sandbox (bubblewrap, socat, ripgrep on Linux); agentctl refuses runs
// without it. Where it is missing, the files that start runs are left out, loudly; the tests of the
// refusal itself (test/e2e/containment.test.ts) and everything else still run.
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const osSandbox = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);
const NEEDS_OS_SANDBOX = [
  'test/e2e/auto.test.ts',
  'test/e2e/batch.test.ts',
  'test/e2e/cli.test.ts',
  'test/e2e/concurrency.test.ts',
  'test/e2e/request-changes.test.ts',
  'test/e2e/safety.test.ts',
  'test/e2e/terminal.test.ts',
  'test/e2e/trust.test.ts',
  'test/e2e/review-tui.test.ts',
  'test/e2e/review-session.test.ts',
  'test/e2e/pg-team.test.ts',
  'test/e2e/pg-queue.test.ts',
  'test/real-cli/smoke.test.ts',
  'test/real-cli/repo-config.test.ts',
];
if (!osSandbox) {
  process.stderr.write(
    `\nagentctl tests: the OS sandbox is not available here (needs bwrap, socat and rg on PATH: sudo apt-get install bubblewrap socat ripgrep).\n` +
      `Skipping the files that start agent runs: ${NEEDS_OS_SANDBOX.join(', ')}\n\n`,
  );
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: [...configDefaults.exclude, ...(wantsRealCli ? [] : [REAL_CLI_MATRIX]), ...(osSandbox ? [] : NEEDS_OS_SANDBOX)],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
