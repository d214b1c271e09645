/**
 * The OS sandbox, tried for real: a tiny Node process is started through the same confinement a run's
 * gate gets ({@link confine} with a run-shaped {@link SandboxLayout} and the built-in `implement`
 * policy), in a throwaway worktree next to a throwaway "checkout" holding a canary secret. It tries to
 * read the canary, to read a file in a folder outside the run, to write outside its worktree, and (the
 * control) to write inside it. The test passes only when the first three fail, the host shows no trace of the outside write, and the control worked (a
 * sandbox that starts nothing would otherwise look safe).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { composePolicy, type Policy } from '../authz/policy.js';
import { parseProfile } from '../authz/profile.js';
import type { SandboxLayout } from '../authz/render/os.js';
import { builtinProfilesDir } from '../core/paths.js';
import { confine, confinedToolchains, type OsSandbox } from '../exec/osSandbox.js';
import { childEnv, runProcess } from '../exec/runner.js';

/** How long the probe may take, in milliseconds (srt starts bubblewrap and its proxies first). */
const SELF_TEST_TIMEOUT_MS = 60_000;
/** The line the probe prints its findings on. */
const MARK = 'AGENTCTL-SELF-TEST ';

/** What the confined probe could do: `denied` is what a sandbox must answer to the first two. */
export interface SelfTestAttempts {
  /** Read the canary in the (hidden) checkout. */
  readCanary: 'denied' | 'allowed' | 'not run';
  /** Read a file in a folder outside the run that no rule names (reads are an allow list). */
  readOutside: 'denied' | 'allowed' | 'not run';
  /** Write a file beside the worktree. */
  writeOutside: 'denied' | 'allowed' | 'not run';
  /** Write a file in the worktree (must be allowed: proves the probe really ran confined). */
  writeWorktree: 'denied' | 'allowed' | 'not run';
}

/** The self-test's outcome. */
export interface SelfTestResult {
  passed: boolean;
  attempts: SelfTestAttempts;
  /** One line saying what happened. */
  detail: string;
  /** The probe's exit code (null when killed), and the tail of its stderr when it did not report. */
  exitCode: number | null;
  stderr: string;
}

/** The built-in `implement` policy, as a run of an `implement` task gets it. */
function implementPolicy(): Policy {
  const file = join(builtinProfilesDir(), 'implement.yaml');
  const profile = parseProfile('implement', file, readFileSync(file, 'utf8'), 'builtin');
  return composePolicy({ id: 'doctor', file: '(doctor)', profiles: ['implement'], paths: [], autonomy: 'review' }, new Map([['implement', profile]]), { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });
}

/** The probe: CommonJS for `node -e`; prints one line `MARK {readCanary, readOutside, writeOutside, writeWorktree}`. */
function probeScript(canary: string, token: string, elsewhere: string, outside: string, inside: string): string {
  return `const fs = require('node:fs');
const r = {};
const t = (k, f) => { try { r[k] = f() === false ? 'denied' : 'allowed'; } catch { r[k] = 'denied'; } };
t('readCanary', () => fs.readFileSync(${JSON.stringify(canary)}, 'utf8').includes(${JSON.stringify(token)}));
t('readOutside', () => fs.readFileSync(${JSON.stringify(elsewhere)}, 'utf8').includes(${JSON.stringify(token)}));
t('writeOutside', () => fs.writeFileSync(${JSON.stringify(outside)}, 'escaped'));
t('writeWorktree', () => fs.writeFileSync(${JSON.stringify(inside)}, 'inside'));
console.log(${JSON.stringify(MARK)} + JSON.stringify(r));`;
}

/**
 * Run the live self-test.
 * @param sandbox the located OS sandbox (`locateOsSandbox`)
 * @param env the environment the probe's allowlisted basics (PATH…) come from
 * @returns the outcome; never throws for a sandbox that fails (that is a failed test)
 */
export async function sandboxSelfTest(sandbox: OsSandbox, env: NodeJS.ProcessEnv): Promise<SelfTestResult> {
  const base = mkdtempSync(join(tmpdir(), 'agentctl-doctor-'));
  try {
    // A run's shape on disk: the user's checkout (hidden), its common .git (readable), AGENTCTL_HOME
    // (hidden) with the run's folder (readable), the worktree and the run's temp dir (writable).
    const checkout = join(base, 'checkout');
    const worktree = join(base, 'worktree');
    const home = join(base, 'home');
    const tempRoot = join(base, 'tmp');
    const tmpDir = join(tempRoot, 'doctor');
    const outsideDir = join(base, 'outside');
    for (const dir of [join(checkout, '.git'), worktree, home, tempRoot, outsideDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const token = `canary-${randomBytes(8).toString('hex')}`;
    const canary = join(checkout, '.env');
    writeFileSync(canary, `SECRET=${token}\n`);
    const outside = join(outsideDir, 'escaped.txt');
    const elsewhere = join(outsideDir, 'elsewhere.txt');
    writeFileSync(elsewhere, `SECRET=${token}\n`);
    const inside = join(worktree, 'probe.txt');
    const layout: SandboxLayout = {
      worktree,
      repoRoot: checkout,
      commonGitDir: join(checkout, '.git'),
      agentctlHome: home,
      runDir: join(home, 'runs', 'doctor'),
      writable: [tmpDir],
      readOnlyFiles: [],
      tempRoot,
      homeDir: homedir(),
      toolchains: confinedToolchains(env, homedir(), [base]),
      platform: process.platform,
    };
    const cmd = confine(sandbox, { file: process.execPath, args: ['-e', probeScript(canary, token, elsewhere, outside, inside)] }, implementPolicy(), layout, [], 'os-sandbox.doctor.json');
    const result = await runProcess(cmd.file, cmd.args, { cwd: worktree, env: childEnv(env, { TMPDIR: tmpDir }), acceptExitCodes: 'any', processGroup: true, timeoutMs: SELF_TEST_TIMEOUT_MS });
    const line = result.stdout.split('\n').find((l) => l.startsWith(MARK));
    const stderr = result.stderr.trim().split('\n').slice(-5).join('\n');
    if (!line) {
      return {
        passed: false,
        attempts: { readCanary: 'not run', readOutside: 'not run', writeOutside: 'not run', writeWorktree: 'not run' },
        detail: `the sandbox did not run the probe (${result.timedOut ? 'timed out' : result.signal ?? `exit ${result.exitCode}`})${stderr ? `: ${stderr}` : ''}`,
        exitCode: result.exitCode,
        stderr,
      };
    }
    const attempts = JSON.parse(line.slice(MARK.length)) as SelfTestAttempts;
    // The host decides, not only the probe's word: the outside file must not exist, the inside one must.
    if (existsSync(outside)) attempts.writeOutside = 'allowed';
    if (!existsSync(inside)) attempts.writeWorktree = 'denied';
    const passed = attempts.readCanary === 'denied' && attempts.readOutside === 'denied' && attempts.writeOutside === 'denied' && attempts.writeWorktree === 'allowed';
    const problems = [
      attempts.readCanary === 'allowed' ? 'READ a secret outside its worktree' : undefined,
      attempts.readOutside === 'allowed' ? 'READ a file in a folder outside the run' : undefined,
      attempts.writeOutside === 'allowed' ? 'WROTE a file outside its worktree' : undefined,
      attempts.writeWorktree !== 'allowed' ? 'could not write its own worktree' : undefined,
    ].filter(Boolean);
    return {
      passed,
      attempts,
      detail: passed ? 'a confined process could neither read a secret outside its worktree, nor read a folder outside the run, nor write outside it, and could write inside it' : `a confined process ${problems.join(' and ')}`,
      exitCode: result.exitCode,
      stderr,
    };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
