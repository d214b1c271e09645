/**
 * Measuring one child process: wall time, CPU time of its whole process tree, and peak resident memory.
 *
 * CPU: where the bench may create a cgroup (cgroup v2, else v1 cpuacct; needs root), the child runs in
 * its own cgroup and its CPU is the cgroup's usage: every process it started, waited for or not
 * (a sandbox's helpers that are killed and reparented count too). Elsewhere, bash's `times` after the
 * child: getrusage(RUSAGE_CHILDREN), which counts only descendants their parents waited for.
 * Peak memory comes from GNU time's %M (max RSS of the largest single process in the tree, in KB) when
 * /usr/bin/time is GNU time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One measurement. Times in milliseconds, memory in MB (undefined when GNU time is not available). */
export interface Sample {
  wallMs: number;
  userMs: number;
  sysMs: number;
  /** CPU of the whole process tree: the cgroup's usage where available, else `userMs + sysMs`. */
  cpuMs: number;
  peakRssMB: number | undefined;
  code: number;
  /** stdout, kept up to `keepStdout` bytes. */
  stdout: string;
  stdoutBytes: number;
  stderr: string;
}

/** Options for {@link timed}. */
export interface TimedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Bytes of stdout to keep (the rest is counted and dropped; `runs --json` on 1M events is ~100 MB). Default 1 MiB. */
  keepStdout?: number;
}

/** A place to make per-measurement cgroups: the folder, the file a pid is written to, how to read usage in ms. */
interface CgroupRoot {
  kind: 'cgroup v2' | 'cgroup v1 cpuacct';
  dir: string;
  procs: string;
  usageMs(dir: string): number;
}

let cgroupRoot: CgroupRoot | null | undefined;
/** The cgroup root the bench can use, or null (not Linux, not root, no cgroup fs). Probed once, by making one. */
export function cgroupCpu(): CgroupRoot | null {
  if (cgroupRoot !== undefined) return cgroupRoot;
  cgroupRoot = null;
  if (process.env.BENCH_NO_CGROUP === '1') return null;
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return null;
  }
  const candidates: CgroupRoot[] = [];
  for (const line of mounts.split('\n')) {
    const [, dir, fstype, options] = line.split(' ');
    if (!dir) continue;
    if (fstype === 'cgroup2') candidates.push({ kind: 'cgroup v2', dir, procs: 'cgroup.procs', usageMs: (d) => Number(/usage_usec (\d+)/.exec(readFileSync(join(d, 'cpu.stat'), 'utf8'))?.[1]) / 1000 });
    if (fstype === 'cgroup' && options?.split(',').includes('cpuacct')) candidates.push({ kind: 'cgroup v1 cpuacct', dir, procs: 'tasks', usageMs: (d) => Number(readFileSync(join(d, 'cpuacct.usage'), 'utf8')) / 1e6 });
  }
  for (const c of candidates) {
    const probe = join(c.dir, `agentctl-bench-probe-${process.pid}`);
    try {
      mkdirSync(probe);
      const ok = Number.isFinite(c.usageMs(probe));
      rmdirSync(probe);
      if (ok) return (cgroupRoot = c);
    } catch {
      // not writable or not readable: try the next
    }
  }
  return null;
}

let gnuTime: boolean | undefined;
/** Whether /usr/bin/time is GNU time (supports -f %M and -o). */
export function hasGnuTime(): boolean {
  if (gnuTime === undefined) {
    const r = spawnSync('/usr/bin/time', ['--version'], { encoding: 'utf8' });
    gnuTime = r.status === 0 && /GNU/.test(`${r.stdout}${r.stderr}`);
  }
  return gnuTime;
}

let scratchDir: string | undefined;
let counter = 0;
/** A private folder for GNU time's output files, made on first use. */
function scratch(): string {
  return (scratchDir ??= mkdtempSync(join(tmpdir(), 'agentctl-bench-measure-')));
}
/** Remove the scratch files of this module. */
export function cleanupMeasure(): void {
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  scratchDir = undefined;
}

/**
 * Parse bash `times` output ("0m0.002s 0m0.000s\n0m1.234s 0m0.100s"): the first line is the shell's own
 * user and sys, the second its children's. Milliseconds.
 */
export function parseTimes(text: string): { userMs: number; sysMs: number; selfMs: number } {
  const parse = (line: string) => [...line.matchAll(/(\d+)m(\d+)[.,](\d+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000 + Number(`0.${m[3]}`) * 1000);
  const [self = '', children = ''] = text.trim().split('\n');
  const own = parse(self);
  const kids = parse(children);
  if (own.length !== 2 || kids.length !== 2) throw new Error(`cannot parse bash times output: ${JSON.stringify(text)}`);
  return { userMs: kids[0]!, sysMs: kids[1]!, selfMs: own[0]! + own[1]! };
}

/** Remove a measurement cgroup; a process that outlived the command keeps it busy for a moment. */
function removeCgroup(dir: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 20; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      Atomics.wait(pause, 0, 0, 50);
    }
  }
  progress(`cgroup ${dir} still has processes (something outlived its command); left in place`);
}

/**
 * Run `cmd args` and measure it (see the module comment). Never throws on the child's exit code.
 * @throws Error when bash cannot start or its `times` output cannot be parsed
 */
export function timed(cmd: string, args: readonly string[], opts: TimedOptions): Promise<Sample> {
  const keep = opts.keepStdout ?? 1024 * 1024;
  const rssFile = join(scratch(), `rss-${process.pid}-${counter++}`);
  const run = hasGnuTime() ? `/usr/bin/time -q -f %M -o "$rss" "$@"` : '"$@"';
  const script = `if [ -n "$BENCH_CGROUP_PROCS" ]; then echo $$ > "$BENCH_CGROUP_PROCS" || exit 97; fi\nrss=$BENCH_RSS_FILE\nunset BENCH_CGROUP_PROCS BENCH_RSS_FILE\n${run}\nrc=$?\ntimes >&3\nexit $rc`;
  const cg = cgroupCpu();
  const group = cg ? join(cg.dir, `agentctl-bench-${process.pid}-${counter++}`) : undefined;
  if (cg && group) mkdirSync(group);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('bash', ['-c', script, 'bench', cmd, ...args], {
      cwd: opts.cwd,
      env: { ...opts.env, BENCH_RSS_FILE: rssFile, ...(cg && group ? { BENCH_CGROUP_PROCS: join(group, cg.procs) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stdoutBytes = 0;
    let stderr = '';
    let times = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdoutBytes += d.length;
      if (stdout.length < keep) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString('utf8');
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (times += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - start;
      try {
        const { userMs, sysMs, selfMs } = parseTimes(times);
        let cpuMs = userMs + sysMs;
        if (cg && group) {
          // The cgroup also holds bash itself: take its own CPU off.
          cpuMs = cg.usageMs(group) - selfMs;
          removeCgroup(group);
        }
        let peakRssMB: number | undefined;
        if (hasGnuTime()) {
          const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
          peakRssMB = Number.isFinite(kb) ? kb / 1024 : undefined;
          rmSync(rssFile, { force: true });
        }
        resolve({ wallMs, userMs, sysMs, cpuMs, peakRssMB, code: code ?? -1, stdout, stdoutBytes, stderr });
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Add two samples (two processes of one operation, e.g. `run` then `review discard`). */
export function sumSamples(a: Sample, b: Sample): Sample {
  return {
    wallMs: a.wallMs + b.wallMs,
    userMs: a.userMs + b.userMs,
    sysMs: a.sysMs + b.sysMs,
    cpuMs: a.cpuMs + b.cpuMs,
    peakRssMB: a.peakRssMB === undefined || b.peakRssMB === undefined ? undefined : Math.max(a.peakRssMB, b.peakRssMB),
    code: a.code || b.code,
    stdout: a.stdout + b.stdout,
    stdoutBytes: a.stdoutBytes + b.stdoutBytes,
    stderr: a.stderr + b.stderr,
  };
}

/** Progress line on stderr (stdout carries only the table). */
export function progress(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}
