import { configDefaults, defineConfig } from 'vitest/config';

// The full real-CLI matrix (test/real-cli/real-cli.test.ts) is slow: it runs only when named on the
// command line (`npm run test:real`, `vitest run test/real-cli`). `npm test` keeps its fast subset
// (test/real-cli/smoke.test.ts).
const REAL_CLI_MATRIX = 'test/real-cli/real-cli.test.ts';
const wantsRealCli = process.argv.slice(2).some((arg) => arg.includes('real-cli'));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: [...configDefaults.exclude, ...(wantsRealCli ? [] : [REAL_CLI_MATRIX])],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
