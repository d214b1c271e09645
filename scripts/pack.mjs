// npm pack / publish hooks (package.json "prepack" / "postpack").
// prepack: start from an empty dist/ (the build then ships exactly what src/ compiles to, no file of a
//   deleted source), and ship the lockfile as npm-shrinkwrap.json, so `npm install -g agentctl` gets the
//   dependency tree agentctl was tested with (npm's documented use of a shrinkwrap: command-line tools
//   installed globally). The build itself runs after this script (see package.json).
// postpack: remove the shrinkwrap again; package-lock.json stays the one lockfile of the repository.
import { copyFileSync, rmSync } from 'node:fs';

const step = process.argv[2];
if (step === 'prepack') {
  rmSync('dist', { recursive: true, force: true });
  copyFileSync('package-lock.json', 'npm-shrinkwrap.json');
} else if (step === 'postpack') {
  rmSync('npm-shrinkwrap.json', { force: true });
} else {
  console.error(`usage: node scripts/pack.mjs prepack|postpack (got ${step})`);
  process.exit(2);
}
