/** Test helpers: real temp git repos, an isolated AGENTCTL_HOME, and running the built bin/agentctl. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'agentctl');
export const SCRIPTED_CLAUDE = join(ROOT, 'dist', 'demo', 'scripted-claude.js');

const cleanups: string[] = [];
/** Remove every temp dir made by this file's tests. */
export function cleanup(): void {
  for (const d of cleanups.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A temp dir that is removed by {@link cleanup}. */
export function tempDir(prefix = 'agentctl-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(d);
  return d;
}

/** Run git in a directory; returns stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim();
}

/** Write files (path → content) below `root`, creating folders. */
export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** A fresh repository on `main` with an initial commit, user identity set and gc disabled. */
export function makeRepo(files: Record<string, string> = {}): { repo: string; home: string } {
  const base = tempDir();
  const repo = join(base, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 'dev@example.com');
  git(repo, 'config', 'user.name', 'Dev');
  git(repo, 'config', 'gc.auto', '0');
  writeFiles(repo, {
    'README.md': '# sample\n',
    '.agentrc.yaml': `agents:\n  claude:\n    bin: ${SCRIPTED_CLAUDE}\n`,
    ...files,
  });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'initial');
  return { repo, home: join(base, 'home') };
}

/** A task file's text. */
export function taskFile(front: Record<string, unknown>, body: string): string {
  const yaml = Object.entries(front)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `---\n${yaml}\n---\n${body}\n`;
}

/** A prompt with an agent-script block for the scripted agent. */
export function script(...steps: Record<string, unknown>[]): string {
  return `Do the work.\n\n\`\`\`agent-script\n${steps.map((s) => JSON.stringify(s)).join('\n')}\n\`\`\``;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built `bin/agentctl` in `cwd` with an isolated AGENTCTL_HOME; never throws on exit code. */
export function agentctl(cwd: string, home: string, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: home, NO_COLOR: '1', CI: '1', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Run the built `bin/agentctl` in a child process and measure its peak resident set size (the child
 * reports `process.resourceUsage().maxRSS` at exit, whatever the command did). Not for timing.
 * @returns the exit code, stdout, and the peak RSS in MB
 */
export function agentctlPeak(cwd: string, home: string, args: string[], extraEnv: Record<string, string> = {}): { code: number | null; stdout: string; peakMB: number } {
  const dir = tempDir();
  const out = join(dir, 'maxrss');
  const preload = join(dir, 'maxrss.cjs');
  // maxRSS is in kilobytes.
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, String(process.resourceUsage().maxRSS)));\n`);
  const r = spawnSync(process.execPath, ['--require', preload, BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: home, NO_COLOR: '1', CI: '1', ...extraEnv },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, peakMB: Number(readFileSync(out, 'utf8')) / 1024 };
}

/**
 * `agentctl approve <code>` in a repository, as the machine's user would from a script: the code comes
 * from `agentctl approve`'s refusal without one (which lists the settings). For tests whose repository
 * sets something that reaches outside the OS sandbox on purpose (a `sandbox: none` profile,
 * `worktree.copy`).
 * @returns the approval code used ('' when there was nothing to approve)
 * @throws Error when approve fails
 */
export function approveRepo(repo: string, home: string): string {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: home, NO_COLOR: '1', CI: '1' };
  const listed = spawnSync(process.execPath, [BIN, 'approve'], { cwd: repo, env, encoding: 'utf8' });
  if (listed.status === 0) return ''; // nothing to approve, or already approved
  const code = /agentctl approve ([0-9a-f]{16})/.exec(listed.stderr)?.[1];
  if (listed.status !== 2 || !code) throw new Error(`agentctl approve (no code) → ${listed.status}: ${listed.stderr}`);
  const r = spawnSync(process.execPath, [BIN, 'approve', code], { cwd: repo, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`agentctl approve ${code} → ${r.status}: ${r.stderr}`);
  return code;
}

/** A `command` agent whose behaviour is chosen by the first line of its prompt (see test/e2e/auto.test.ts). */
export const SCRIPTED_AGENT = `#!/bin/sh
name=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1)
mkdir -p docs
case "$name" in
  lowconf-*) echo "$name" > "docs/$name.md"; echo '{"observed":"two options","considered":["a","b"],"decided":"a, unsure","confidence":0.3}' >> .agentctl/trace.jsonl ;;
  stop-*) echo '{"decided":"lost","confidence":0.05}' >> .agentctl/trace.jsonl; sleep 20 ;;
  ask-*) echo '{"reason":"which API version?","question":"v1 or v2?"}' > .agentctl/escalate.json; sleep 20 ;;
  scope-*) echo "all:" > Makefile ;;
  slow-*) echo "$name" > "docs/$name.md"; sleep 30 ;;
  handover-*) echo "$name" > "docs/$name.md"; echo "Use tabs in docs tables." > .agentctl/handover.md ;;
  follow-*) echo "$name" > "docs/$name.md"; echo '{"id":"child-task","title":"Child","prompt":"ok-child","type":"docs","profile":"yolo"}' >> .agentctl/followups.jsonl ;;
  review-approve) echo "Looks right. VERDICT: approve" ;;
  review-reject) echo "Wrong file. VERDICT: reject" ;;
  *) echo "$name" > "docs/$name.md"; echo '{"status":"done","progress":1}' >> .agentctl/status.jsonl ;;
esac
echo "finished $name"
`;

/**
 * A shell command line that runs `sleep <seconds>` under the name `tag` (its command line reads
 * `<tag> <seconds>`), so a test can find it from the host with {@link tagged}, whether it runs inside the
 * OS sandbox (its own PID namespace: a pid it prints means nothing outside) or not. A process that
 * ignores SIGTERM passes that on to it (an ignored signal stays ignored across exec).
 */
export function taggedSleep(tag: string, seconds = 300): string {
  return `bash -c 'exec -a "$0" sleep ${seconds}' ${tag}`;
}

/** True when /proc/<pid> is a live process (not a zombie: a killed orphan may linger unreaped in containers). */
export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live processes whose command line contains `tag` (pgrep -f), ascending. */
export function tagged(tag: string): number[] {
  const out = spawnSync('pgrep', ['-f', tag], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number).filter(isLive);
}

/**
 * Live processes of a run, found the way the test can see them from the host: every process whose
 * environment carries `AGENTCTL_RUN_ID=<runId>` (set for everything a run starts). Linux only.
 */
export function processesOfRun(runId: string): number[] {
  const needle = `AGENTCTL_RUN_ID=${runId}`;
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle) && isLive(pid);
      } catch {
        return false;
      }
    });
}

/** Poll `check` every 100 ms until it holds or `ms` have passed; returns whether it held. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 30_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}
