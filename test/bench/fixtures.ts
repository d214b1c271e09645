/**
 * The bench's own fixtures: an event log filled through agentctl's store (cached between bench runs
 * under the system temp dir, keyed by the event schema and the code that writes and authenticates
 * events), a small project repository whose tasks match the log, and a 5,000-file repository for runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as EventsModule from '../../src/evidence/events.js';
import type * as MigrationsModule from '../../src/evidence/migrations.js';
import type * as PathsModule from '../../src/core/paths.js';
import type * as StoreModule from '../../src/evidence/store.js';
import { AGENTS, EVENTS_PER_RUN, PROJECT, TASK_TYPES, isMerged, promotions, runEvents, runIdentity, type RunCommits } from './events.js';
import { progress } from './measure.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'agentctl');

/** agentctl's built modules (dist/, what ships), typed from their sources. */
export interface Dist {
  store: typeof StoreModule;
  events: typeof EventsModule;
  migrations: typeof MigrationsModule;
  paths: typeof PathsModule;
}

/** Import the built modules the bench calls directly. @throws when dist/ is missing (run `npm run build`). */
export async function loadDist(): Promise<Dist> {
  const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(join(ROOT, 'dist', rel)).href)) as T;
  return {
    store: await load<typeof StoreModule>('evidence/store.js'),
    events: await load<typeof EventsModule>('evidence/events.js'),
    migrations: await load<typeof MigrationsModule>('evidence/migrations.js'),
    paths: await load<typeof PathsModule>('core/paths.js'),
  };
}

/**
 * The environment every measured process runs with, figures and anchors alike: PATH, HOME and TMPDIR
 * only. Inherited variables would tilt ratios (NODE_EXTRA_CA_CERTS alone adds ~60 ms to each node start).
 */
export function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: process.env.TMPDIR ?? '/tmp' };
}

/** The environment agentctl commands run with: {@link baseEnv} plus an isolated home, like the e2e tests. */
export function cliEnv(home: string): NodeJS.ProcessEnv {
  return { ...baseEnv(), AGENTCTL_HOME: home, NO_COLOR: '1', CI: '1' };
}

/** Run git; returns stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' }, maxBuffer: 64 * 1024 * 1024 }).trim();
}

/**
 * Key of a cached log: the schema (migrations, fingerprint), the event types, and the built code that
 * writes, hashes and authenticates events (dist/evidence/*.js, dist/core/*.js), plus the generator.
 * Any change there makes a new log, so a cached log always verifies with the code under test.
 */
function logKey(dist: Dist, events: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ events, migrations: dist.migrations.MIGRATIONS, types: dist.events.EVENT_TYPES, fingerprint: dist.store.expectedSchemaFingerprint() }));
  for (const dir of ['evidence', 'core']) {
    const abs = join(ROOT, 'dist', dir);
    for (const f of readdirSync(abs).filter((n) => n.endsWith('.js')).sort()) h.update(f).update(readFileSync(join(abs, f)));
  }
  h.update(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'events.ts')));
  h.update(`history/${HISTORY_FORMAT}`);
  const schema = Math.max(...dist.migrations.MIGRATIONS.map((m) => m.version));
  return `schema${schema}-${h.digest('hex').slice(0, 16)}`;
}

/** Version of the git history {@link historyRepo} writes (part of the cached log's key). */
const HISTORY_FORMAT = 1;

/**
 * A filled log: its AGENTCTL_HOME (read it, never write it: copy it with {@link copyHome}) and the bare
 * repository holding its merged runs' commits (clone it with {@link projectClone}).
 */
export interface LogFixture {
  home: string;
  repo: string;
  events: number;
  runs: number;
  cached: boolean;
  fillMs: number | undefined;
}

/** Runs at the repository root recorded in the generated events (a path only; never opened). */
const FAKE_REPO_ROOT = '/home/dev/src/bench';

/**
 * The log of about `events` events (runs of {@link EVENTS_PER_RUN}, plus 12 promotions), filled through
 * `openEventStore(...).append` in batches of one run's events ×100, or the cached copy.
 * Set BENCH_FRESH=1 to refill.
 */
export async function logFixture(dist: Dist, events: number): Promise<LogFixture> {
  const runs = Math.max(1, Math.round(events / EVENTS_PER_RUN));
  const root = join(tmpdir(), 'agentctl-bench');
  const key = logKey(dist, events);
  const dir = join(root, `log-${events}-${key}`);
  const home = join(dir, 'home');
  const repo = join(dir, 'repo.git');
  const total = runs * EVENTS_PER_RUN + AGENTS.length * TASK_TYPES.length;
  if (existsSync(join(dir, 'complete.json')) && process.env.BENCH_FRESH !== '1') return { home, repo, events: total, runs, cached: true, fillMs: undefined };
  mkdirSync(root, { recursive: true });
  // Older logs of this size were made by other code: they would not verify. Drop them (they are large).
  for (const old of readdirSync(root)) if (old.startsWith(`log-${events}-`)) rmSync(join(root, old), { recursive: true, force: true });
  const work = `${dir}.tmp-${process.pid}`;
  const workHome = join(work, 'home');
  mkdirSync(workHome, { recursive: true });
  progress(`filling a log of ${total} events (${runs} runs) through the store in ${work}`);
  const previousHome = process.env.AGENTCTL_HOME;
  // Whatever the store keeps next to the log (a key, a checkpoint) must land in this home.
  process.env.AGENTCTL_HOME = workHome;
  const start = performance.now();
  const endMs = Date.now() - 60_000;
  const commits = historyRepo(join(work, 'repo.git'), runs, endMs);
  const store = dist.store.openEventStore(dist.paths.homePaths(workHome).database);
  try {
    store.append(promotions(endMs - 366 * 24 * 3600 * 1000));
    const perBatch = 100;
    for (let i = 0; i < runs; i += perBatch) {
      const batch = [];
      for (let j = i; j < Math.min(runs, i + perBatch); j++) batch.push(...runEvents(j, runs, endMs, FAKE_REPO_ROOT, commits.get(j)));
      store.append(batch);
      if (i % 10_000 === 0 && i > 0) progress(`  ${i * EVENTS_PER_RUN} events`);
    }
  } finally {
    store.close();
    if (previousHome === undefined) delete process.env.AGENTCTL_HOME;
    else process.env.AGENTCTL_HOME = previousHome;
  }
  const fillMs = performance.now() - start;
  writeFileSync(join(work, 'complete.json'), JSON.stringify({ events: total, runs, fillMs, made: new Date().toISOString() }));
  renameSync(work, dir);
  progress(`filled in ${(fillMs / 1000).toFixed(1)} s`);
  return { home, repo, events: total, runs, cached: false, fillMs };
}

/**
 * The project's year of git history, in a new bare repository at `dir`: the project's files
 * ({@link projectFiles}), then for each merged run (7 in 10, in order) its work commit and its merge
 * into `main`, with agentctl's messages and the run's time, written by one `git fast-import`.
 * @returns each merged run's commits by run number
 */
export function historyRepo(dir: string, runs: number, endMs: number): Map<number, RunCommits> {
  progress(`writing the git history of ${runs} runs (a commit and a merge per merged run) to ${dir}`);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '--bare', '-b', 'main');
  const chunks: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const who = (name: string, email: string, ms: number) => `${name} <${email}> ${Math.floor(ms / 1000)} +0000`;
  const start = endMs - 366 * 24 * 3600 * 1000;
  chunks.push(`commit refs/heads/main\nmark :1\nauthor ${who('Dev', 'dev@example.com', start)}\ncommitter ${who('Dev', 'dev@example.com', start)}\n${data('initial')}`);
  for (const [path, content] of Object.entries(projectFiles())) chunks.push(`M 100644 inline ${path}\n${data(content)}`);
  const marks = new Map<number, { base: number; head: number; merge: number }>();
  let main = 1;
  let mark = 1;
  for (let i = 0; i < runs; i++) {
    if (!isMerged(i)) continue;
    const { runId, task, agent, plannedMs } = runIdentity(i, runs, endMs);
    const file = `M 100644 inline work/${i % 50}.txt\n${data(`run ${i}`)}`;
    const agentctl = who('agentctl', 'agentctl@localhost', plannedMs + 60_000);
    const head = ++mark;
    chunks.push(`commit refs/heads/agentctl-work\nmark :${head}\nauthor ${who(agent, `${agent}@agentctl.localhost`, plannedMs + 60_000)}\ncommitter ${agentctl}\n${data(`agentctl: ${task} (run ${runId})`)}from :${main}\n${file}`);
    const merge = ++mark;
    chunks.push(`commit refs/heads/main\nmark :${merge}\nauthor ${agentctl}\ncommitter ${agentctl}\n${data(`agentctl: merge ${task} (run ${runId})`)}from :${main}\nmerge :${head}\n${file}`);
    marks.set(i, { base: main, head, merge });
    main = merge;
  }
  const marksFile = join(dir, 'bench-marks');
  execFileSync('git', ['fast-import', '--quiet', `--export-marks=${marksFile}`], { cwd: dir, input: chunks.join(''), env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' }, maxBuffer: 64 * 1024 * 1024 });
  git(dir, 'update-ref', '-d', 'refs/heads/agentctl-work');
  const shas = new Map<number, string>();
  for (const line of readFileSync(marksFile, 'utf8').split('\n')) {
    const [m, sha] = line.split(' ');
    if (m && sha) shas.set(Number(m.slice(1)), sha);
  }
  rmSync(marksFile);
  const out = new Map<number, RunCommits>();
  for (const [i, m] of marks) out.set(i, { base: shas.get(m.base)!, head: shas.get(m.head)!, merge: shas.get(m.merge)! });
  return out;
}

/** A working clone of the log's repository at `dir` (objects shared with it), on `main`, as a user's checkout. */
export function projectClone(log: LogFixture, dir: string): string {
  mkdirSync(dirname(dir), { recursive: true });
  git(dirname(dir), 'clone', '-q', '--shared', log.repo, dir);
  git(dir, 'config', 'user.email', 'dev@example.com');
  git(dir, 'config', 'user.name', 'Dev');
  git(dir, 'config', 'gc.auto', '0');
  return dir;
}

/** sha256 of every built file (dist/**\/*.js): which agentctl a primed log was primed by. */
function distHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.name.endsWith('.js')) h.update(abs).update(readFileSync(abs));
    }
  };
  walk(join(ROOT, 'dist'));
  return h.digest('hex').slice(0, 16);
}

/**
 * Bring the cached log's saved projections up to date for the agentctl under test (one untimed
 * `agentctl tasks --json`), so the figures are a year-old installation's steady state ("what is new"),
 * not the one-off first call after an upgrade. Done once per build of agentctl; a failure is reported
 * and left for the measured calls to show.
 */
export function primeLog(log: LogFixture, work: string): void {
  const marker = join(dirname(log.home), 'primed.json');
  const dist = distHash();
  try {
    if ((JSON.parse(readFileSync(marker, 'utf8')) as { dist?: string }).dist === dist) return;
  } catch {
    // not primed yet
  }
  progress('bringing the saved projections of the cached log up to date (once per build of agentctl)');
  const repo = projectClone(log, join(work, 'prime-project'));
  const start = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'tasks', '--json'], { cwd: repo, env: cliEnv(log.home), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    progress(`  priming failed (exit ${r.status}): ${(r.stderr ?? '').trim().slice(0, 300)}`);
    return;
  }
  const ms = performance.now() - start;
  writeFileSync(marker, JSON.stringify({ dist, ms, primed: new Date().toISOString() }));
  progress(`  primed in ${(ms / 1000).toFixed(1)} s`);
}

/**
 * Copy an AGENTCTL_HOME (so commands that save projections do not change the cached log), without the
 * record of which clone owns each project name: the clone the copy is used with claims it at its first
 * command, so its git history is scanned as a user's would be.
 */
export function copyHome(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  rmSync(join(to, 'approvals', 'projects.json'), { force: true });
}

/** A repository on `main` with one commit of `files` (path → content); `executables` get mode 0755. */
export function makeRepo(dir: string, files: Record<string, string>, executables: readonly string[] = []): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 'dev@example.com');
  git(dir, 'config', 'user.name', 'Dev');
  git(dir, 'config', 'gc.auto', '0');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  for (const path of executables) chmodSync(join(dir, path), 0o755);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'initial');
  return dir;
}

// Limits high enough that the bench's own runs (dozens within minutes) never trip a breaker.
const BREAKERS = 'breakers:\n  volume:\n    runsPerHour: 100000\n    linesPerHour: 10000000\n  errors:\n    maxFailures: 100000\n';

/** The files of the project the log is about: `.agentrc.yaml` naming it, one task per agent × task type. */
function projectFiles(): Record<string, string> {
  const files: Record<string, string> = { 'README.md': '# bench\n', '.agentrc.yaml': `project: ${PROJECT}\nbaseBranch: main\n${BREAKERS}` };
  for (const agent of AGENTS) {
    for (const type of TASK_TYPES) files[`tasks/${type}-${agent}.md`] = `---\nagent: ${agent}\ntype: ${type}\nautonomy: auto\ngate: npm test\n---\nBench task for ${agent} (${type}).\n`;
  }
  return files;
}

/** A new repository of the project the log is about ({@link projectFiles}), one commit. */
export function projectRepo(dir: string): string {
  return makeRepo(dir, projectFiles());
}

/** The no-op agent: writes one line to one file, like the anchor's commit. */
const AGENT_SH = '#!/bin/sh\nmkdir -p docs\necho "$AGENTCTL_RUN_ID $$" > "docs/noop-$$.md"\n';

/**
 * A repository of `fileCount` source files (~1 KB each, 100 per folder) with a `command` agent and tasks:
 * `noop` (profile `open`: implement without the OS sandbox), `noop-os` (the default: OS sandbox), and
 * `conc-01`… tagged `conc` (OS sandbox) for the concurrency row. No gates: the run's own cost only.
 */
export function bigRepo(dir: string, fileCount: number, concurrent: number): string {
  const files: Record<string, string> = {
    'README.md': '# big\n',
    // Every bench run is discarded: without this, five discards demote the agent to hold and runs stop.
    '.agentrc.yaml': `project: big\nbaseBranch: main\nagents:\n  command:\n    bin: ./agent.sh\ntrust:\n  demotion:\n    minRuns: 1000000\n${BREAKERS}`,
    'agent.sh': AGENT_SH,
    '.agentctl/profiles/open.yaml': 'description: implement without the OS sandbox (bench)\nextends: implement\nsandbox: none\n',
    'tasks/noop.md': '---\nagent: command\ntype: docs\nprofile: open\n---\nnoop\n',
    'tasks/noop-os.md': '---\nagent: command\ntype: docs\n---\nnoop\n',
  };
  for (let i = 1; i <= concurrent; i++) files[`tasks/conc-${String(i).padStart(2, '0')}.md`] = `---\nagent: command\ntype: docs\ntags: [conc]\n---\nconc ${i}\n`;
  const line = 'export const value = "the quick brown fox jumps over the lazy dog";\n';
  for (let i = 0; i < fileCount; i++) files[`src/m${String(Math.floor(i / 100)).padStart(3, '0')}/f${i % 100}.ts`] = `// file ${i}\n${line.repeat(14)}`;
  return makeRepo(dir, files, ['agent.sh']);
}
