// The second step of `npm run build` (after tsc has type-checked src/ and written dist/): bundle the CLI
// that bin/agentctl starts into dist/bundle/, so a command loads a few files instead of ~400 modules
// resolved one by one (measured: most of a short command's start-up was module resolution and loading).
//
// - The input is tsc's own output (dist/cli/main.js), not src/: the bundle runs exactly the JavaScript
//   tsc emitted and type-checked; esbuild only joins it with its dependencies.
// - Code splitting keeps every command lazy: program.ts imports each command's module in its action, and
//   each such import becomes a chunk loaded only by that command (ink/react only for the interactive UI).
// - dist/bundle/ sits two levels below the package root like dist/core/paths.js, so packageRoot() (and
//   through it profiles/, package.json and dist/hooks/command-guard.js) resolves the same from either.
// - Left outside the bundle: better-sqlite3 (a native addon, loaded from node_modules) and
//   react-devtools-core (an optional peer of ink, imported only with DEV=true, not installed).
// - `require` is defined for the CommonJS dependencies that require Node's built-ins (commander,
//   picomatch, proper-lockfile...): ESM output has no `require` of its own.
// - No keepNames: it wraps every function and class of every package in a `__name()` call made at load
//   (measured: ~5% of `tasks --json`). Identifiers are not minified, so a class keeps its name unless
//   esbuild renames it to avoid a clash (commander's CommanderError → CommanderError2: cosmetic, its
//   errors are matched with instanceof). agentctl's error classes name themselves from
//   `new.target.name`: the build fails if one of them was renamed (checkErrorNames below).
// - Whitespace and syntax are minified, identifiers are not (see the option's comment).
// The rest of dist/ stays as tsc wrote it: the command guard hook and the demo run from there, and the
// bench and some tests import modules of dist/ directly.
import { readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** esbuild's options for the bundle (test/e2e/start.test.ts builds with them in memory to check what loads when). */
export const bundleOptions = {
  absWorkingDir: root,
  entryPoints: { agentctl: 'dist/cli/main.js' },
  outdir: join(root, 'dist', 'bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Fewer bytes for V8 to parse at every start (measured: ~7% less CPU for `tasks`); identifiers are not
  // renamed, so stack traces still name their functions.
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', 'react-devtools-core'],
  banner: { js: "import { createRequire as __agentctlCreateRequire } from 'node:module'; const require = __agentctlCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};

/**
 * The same CLI as one CommonJS file, dist/fast/agentctl.cjs, which bin/agentctl runs through `vm.Script`
 * with a V8 code cache (Node 20 has no compile cache for ES modules): measured, `tasks --json` spends
 * ~35% less CPU. Commands load lazily as in the ES module build (esbuild's lazy module wrappers), but
 * the file is parsed whole (the code cache makes that cheap).
 * - ink and react (ink awaits at its top level: it cannot be `require`d) are replaced by a module that
 *   throws AGENTCTL_NEEDS_ESM when a command that draws loads them, before that command does anything:
 *   main() passes that error on, and bin/agentctl runs the command again with the ES module build.
 * - import.meta.url becomes the file's own URL (packageRoot() and createRequire() resolve from it:
 *   dist/fast/ is two levels below the package root, like dist/bundle/).
 */
export const fastOptions = {
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outfile: join(root, 'dist', 'fast', 'agentctl.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', 'react-devtools-core'],
  define: { 'import.meta.url': '__agentctlUrl' },
  banner: { js: "const __agentctlUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    {
      name: 'esm-only',
      setup(b) {
        b.onResolve({ filter: /^(ink|react|react\/jsx-runtime|react\/jsx-dev-runtime|yoga-layout)(\/.*)?$/ }, (args) => ({ path: args.path, namespace: 'esm-only' }));
        b.onLoad({ filter: /.*/, namespace: 'esm-only' }, (args) => ({
          // CommonJS (module.exports), so esbuild binds the imported names at run time instead of warning.
          contents: `module.exports = {}; throw Object.assign(new Error(${JSON.stringify(`${args.path} is an ES module with top-level await: run this command with the ES module build`)}), { code: 'AGENTCTL_NEEDS_ESM' });`,
          loader: 'js',
        }));
      },
    },
  ],
  logLevel: 'warning',
};

/**
 * AGENTCTL_HOME as the CLI resolves it (dist/core/paths.js with env-paths), as a small CommonJS file,
 * dist/fast/home.cjs: bin/agentctl keeps the code cache under it before loading the CLI.
 */
export const homeOptions = {
  absWorkingDir: root,
  entryPoints: ['dist/core/paths.js'],
  outfile: join(root, 'dist', 'fast', 'home.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': '__agentctlUrl' },
  banner: { js: "const __agentctlUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

// Run as a script (`node src/bundle.mjs`), not when a test imports the options.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Chunk names carry content hashes: start empty so no chunk of an earlier build is left behind.
  rmSync(bundleOptions.outdir, { recursive: true, force: true });
  rmSync(dirname(fastOptions.outfile), { recursive: true, force: true });
  await build(bundleOptions);
  await build(fastOptions);
  await build(homeOptions);
  checkErrorNames(bundleOptions.outdir);
  checkErrorNames(dirname(fastOptions.outfile));
  checkAscii(fastOptions.outfile);
}

/**
 * Fail the build when the CommonJS bundle holds a byte above 0x7f: bin/agentctl reads it as latin1 (no
 * UTF-8 decoding at every start), which is the same text only for ASCII. esbuild writes ASCII by default
 * (its `charset` option: other characters are escaped).
 * @throws Error naming the file and the first such byte's offset
 */
function checkAscii(file) {
  const bytes = readFileSync(file);
  const at = bytes.findIndex((b) => b > 0x7f);
  if (at >= 0) throw new Error(`bundle: ${file} holds a non-ASCII byte at offset ${at}; bin/agentctl reads it as latin1 (keep esbuild's default charset: ascii)`);
}

/**
 * Fail the build when esbuild renamed one of agentctl's error classes (`InputError2`): their `name`
 * comes from `new.target.name`, and without keepNames a renamed class would carry the new name.
 * @throws Error naming the class and the chunk
 */
function checkErrorNames(dir) {
  // Every class src/core/errors.ts declares (a hand-kept list missed a new one).
  const names = [...readFileSync(join(root, 'src', 'core', 'errors.ts'), 'utf8').matchAll(/^export (?:abstract )?class (\w+) extends/gm)].map((m) => m[1]);
  if (!names.includes('AgentctlError')) throw new Error('bundle: no error classes found in src/core/errors.ts');
  const renamed = new RegExp(`\\b(${names.join('|')})\\d+\\b`);
  for (const file of readdirSync(dir)) {
    const hit = renamed.exec(readFileSync(join(dir, file), 'utf8'));
    if (hit) throw new Error(`bundle: esbuild renamed the error class ${hit[1]} to ${hit[0]} in ${file} (a name clash): rename the clashing class`);
  }
}
