/**
 * Evidence from git after a merge: reverts of agent merges (regressions) and human follow-up commits
 * to a run's files (the merge was not "approved unmodified"). Found by reading the base branch's
 * history and recorded as events, once each (idempotency keys).
 *
 * Incremental: each base branch's history is read once, oldest first, from where the last scan stopped
 * (its saved tip), so a trust read costs the commits and merges that are new since, not the project's
 * history. The saved state (the tips, and the runs whose follow-up window is still open) is a projection
 * snapshot, authenticated like the others; lost, damaged or made for another follow-up window, it is
 * rebuilt from the oldest merge of each branch.
 */
import { randomBytes } from 'node:crypto';
import { borrowsProjectName } from './settingsApproval.js';
import { storedView } from '../evidence/eventSchemas.js';
import type { EventInput } from '../evidence/events.js';
import type { RunView } from '../evidence/projections/runs.js';
import { getRun, listRuns } from '../evidence/runsStore.js';
import type { Context } from './context.js';

/** A run's merge as its `run.merged` event records it. */
interface Merge {
  runId: string;
  sha: string;
  branch: string;
}

/** A run whose follow-up window is open: `humans` of its first `followUpCommits` human commits seen. */
interface OpenWindow {
  runId: string;
  humans: number;
}

/** Where the scan of one base branch stopped. */
interface BranchCursor {
  branch: string;
  /** The branch's commit read up to (inclusive). */
  tip: string;
  open: OpenWindow[];
}

/**
 * The saved state: per base branch, its cursor (a list, never an object keyed by branch name: a branch
 * named `constructor` or `__proto__` would find the object's own prototype), and the merges recorded
 * whose commit this repository has but their branch does not (yet): merged elsewhere, not pulled.
 */
interface ScanState {
  branches: BranchCursor[];
  pending: Merge[];
}

/** Version of the scan's state and rules: a saved state of another version is rebuilt. */
const SCAN_LOGIC = 'git-scan/2';

/**
 * Open follow-up windows kept per base branch: the newest merges'. An older run's window closes when this
 * many later runs merged on its branch before `followUpCommits` human commits came (a repository where
 * agents merge all day and people rarely commit): the state, and the work for each human commit, stay bounded.
 */
export const MAX_OPEN_WINDOWS = 100;

/** Human commits whose changed paths are read in one git call. */
const TOUCHED_BATCH = 100;

/** Merged runs a reverted commit without agentctl's subject is looked up among (the newest). */
const RECENT_MERGED = 1000;

/** Merges kept waiting for their branch to hold them (the newest); more are dropped. */
const MAX_PENDING_MERGES = 100;

/** Reverted commits read from one commit's message (a message of 70,000 such lines once made git's arguments too long). */
const MAX_REVERT_TARGETS = 16;

const FULL_SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * Scan the project's base branches for what is new since the last scan: merges of runs (their
 * follow-up windows open), human commits (counted in the open windows; one that touches a run's files
 * is its follow-up) and reverts of a run's merge or head. Not in a clone that uses another clone's
 * project name unapproved (settingsApproval.ts borrowsProjectName): a fork can hold reverts of its merges.
 * @returns the number of new events recorded
 * @throws GitCommandError when git fails on a branch that exists
 */
export async function scanMergedRuns(ctx: Context): Promise<number> {
  if (borrowsProjectName(ctx)) return 0;
  const project = ctx.project.config.project;
  const window = ctx.project.config.followUpCommits;
  // Per clone: two clones of one project (an approved name) have their own branches.
  const name = `git-scan:${project}:${ctx.project.key}`;
  const version = `${SCAN_LOGIC} followUpCommits=${window}`;
  const saved = loadState(ctx, name, version);
  const before = JSON.stringify(saved.state);
  const cursors = new Map(saved.state.branches.map((c) => [c.branch, c]));
  // Events first, then the tips: a merge recorded after this point is read by the next scan (handled
  // there even when its commit is below the tip saved now, see catchUp).
  const seq = ctx.store.headSeq();
  const fresh = mergesAfter(ctx, project, saved.lastSeq, seq);
  const names = [...new Set([...cursors.keys(), ...saved.state.pending.map((m) => m.branch), ...fresh.map((m) => m.branch)])];
  const tips = await branchTips(ctx, names);
  // A rewritten branch (its saved tip no longer below the tip) is read again from its oldest merge.
  const rewritten = new Set<string>();
  for (const [branch, cursor] of cursors) {
    const tip = tips.get(branch);
    if (tip && cursor.tip !== tip && !(await ctx.git.isAncestor(ctx.project.root, cursor.tip, tip).catch(() => false))) rewritten.add(branch);
  }
  for (const branch of rewritten) cursors.delete(branch);
  // In the order they were recorded: the waiting ones, every earlier merge of a rewritten branch, the new ones.
  const merges = [
    ...saved.state.pending.filter((m) => !rewritten.has(m.branch)),
    ...(rewritten.size ? mergesAfter(ctx, project, 0, saved.lastSeq).filter((m) => rewritten.has(m.branch)) : []),
    ...fresh,
  ];
  const waiting: Merge[] = [];
  const isFresh = new Set(fresh.map((m) => m.sha));

  const scan = new Scan(ctx, project, window);
  for (const branch of names) {
    const tip = tips.get(branch);
    const mine = merges.filter((m) => m.branch === branch);
    if (!tip) {
      cursors.delete(branch); // deleted: nothing to read; its merges wait for it
      waiting.push(...mine);
      continue;
    }
    const cursor = cursors.get(branch);
    // Nothing new on the branch and no merge recorded since: what waits goes on waiting (no git call).
    if (cursor?.tip === tip && !mine.some((m) => isFresh.has(m.sha))) {
      waiting.push(...mine);
      continue;
    }
    const open = cursor?.open ?? [];
    let exclude: string;
    if (cursor) exclude = `^${cursor.tip}`;
    else {
      const oldest = await oldestOnBranch(ctx, mine, tip);
      if (!oldest) {
        cursors.set(branch, { branch, tip, open });
        waiting.push(...(await presentOf(ctx, mine)));
        continue;
      }
      exclude = `^${oldest}^@`;
    }
    const seen = await scan.walk(await commitsOf(ctx, [tip, exclude]), new Map(mine.map((m) => [m.sha, m])), open);
    // Merges not read in this walk: already below the saved tip (merged while the last scan ran), or
    // not on this branch yet (merged elsewhere and not pulled, or this repository lacks the commit).
    const notOnBranch: Merge[] = [];
    for (const m of mine.filter((m) => !seen.has(m.sha))) {
      // One that was waiting is read when a pull brings it: it is then among the new commits.
      if (!isFresh.has(m.sha)) waiting.push(m);
      else if (!(cursor && (await scan.catchUp(m, tip, open)))) notOnBranch.push(m);
    }
    waiting.push(...(await presentOf(ctx, notOnBranch)));
    cursors.set(branch, { branch, tip, open });
  }
  if (scan.events.length) ctx.store.append(scan.events);
  const state: ScanState = { branches: [...cursors.values()], pending: waiting.slice(-MAX_PENDING_MERGES) };
  // Saved when something moved: a trust read with nothing new in git or the log writes nothing.
  const after = JSON.stringify(state);
  if (after !== before || fresh.length) ctx.store.saveProjection({ name, lastSeq: seq, rulesHash: version, state: after });
  return scan.events.length;
}

/** Those of `merges` whose commit this repository has, in their order (one git call; none for an empty list). */
async function presentOf(ctx: Context, merges: readonly Merge[]): Promise<Merge[]> {
  if (!merges.length) return [];
  const present = new Set((await ctx.git.out(ctx.project.root, ['rev-list', '--no-walk', '--ignore-missing', ...merges.map((m) => m.sha)], { readOnly: true })).split('\n').filter(Boolean));
  return merges.filter((m) => present.has(m.sha));
}

/** The saved state when authentic and of this version, else an empty one at sequence 0. */
function loadState(ctx: Context, name: string, version: string): { state: ScanState; lastSeq: number } {
  const snap = ctx.store.loadProjection(name);
  if (snap && snap.rulesHash === version) {
    try {
      const state = JSON.parse(snap.state) as ScanState;
      const shaOk = (v: unknown) => typeof v === 'string' && FULL_SHA.test(v);
      const ok = Array.isArray(state.branches) && Array.isArray(state.pending) && state.branches.every((c) => typeof c.branch === 'string' && shaOk(c.tip) && Array.isArray(c.open)) && state.pending.every((m) => shaOk(m.sha));
      if (ok) return { state, lastSeq: snap.lastSeq };
    } catch {
      // rebuilt below
    }
  }
  return { state: { branches: [], pending: [] }, lastSeq: 0 };
}

/**
 * Merges of `project` recorded after sequence `after` up to `upTo`, oldest first: an index read of
 * `run.merged` events, in pages (a first scan of a year's log holds the merges, not their events).
 */
function mergesAfter(ctx: Context, project: string, after: number, upTo: number): Merge[] {
  const PAGE = 5000;
  const out: Merge[] = [];
  for (let from = after; ; ) {
    const page = ctx.store.query({ project, types: ['run.merged'], afterSeq: from, limit: PAGE });
    for (const e of page) {
      if (e.seq > upTo) return out;
      const t = e.runId ? storedView(e) : undefined;
      if (t?.type === 'run.merged' && FULL_SHA.test(t.payload.mergeSha)) out.push({ runId: e.runId!, sha: t.payload.mergeSha, branch: t.payload.baseBranch });
    }
    if (page.length < PAGE) return out;
    from = page.at(-1)!.seq;
  }
}

/** The commit each of `branches` (local branch names) points at; a branch that does not exist is absent. One git call. */
async function branchTips(ctx: Context, branches: readonly string[]): Promise<Map<string, string>> {
  if (!branches.length) return new Map();
  const listed = await ctx.git.out(ctx.project.root, ['for-each-ref', '--format=%(refname)%00%(objectname)', ...branches.map((b) => `refs/heads/${b}`)], { readOnly: true });
  const tips = new Map<string, string>();
  for (const line of listed.split('\n')) {
    const [ref, sha] = line.split('\0');
    if (!ref || !sha) continue;
    const branch = ref.slice('refs/heads/'.length);
    // for-each-ref's patterns also match below a name (refs/heads/main/x for main): only exact names.
    if (branches.includes(branch)) tips.set(branch, sha);
  }
  return tips;
}

/**
 * The oldest of `merges` (in the order they were recorded) that this repository has below `tip`, or
 * undefined. Which ones it has is asked in chunks (a log can name merges of a repository that was
 * re-cloned, or of another checkout); each present one is checked from the oldest until one is below the tip.
 */
async function oldestOnBranch(ctx: Context, merges: readonly Merge[], tip: string): Promise<string | undefined> {
  const CHUNK = 500;
  for (let i = 0; i < merges.length; i += CHUNK) {
    for (const { sha } of await presentOf(ctx, merges.slice(i, i + CHUNK))) if (await ctx.git.isAncestor(ctx.project.root, sha, tip).catch(() => false)) return sha;
  }
  return undefined;
}

/** A commit as the scan reads it. */
interface Commit {
  sha: string;
  subject: string;
  body: string;
}

/**
 * The commits of a revision range, oldest first (parents before children), with their subjects; the
 * body only of the commits whose message has a `This reverts commit <full sha>` line (a second log with
 * `--grep`: a first scan over a long history does not hold every message).
 */
async function commitsOf(ctx: Context, revs: readonly string[]): Promise<Commit[]> {
  const read = { readOnly: true, drivers: false } as const;
  // A subject has no line break (git joins the first paragraph's lines) and a message no NUL.
  const listed = await ctx.git.out(ctx.project.root, ['log', '--topo-order', '--reverse', '--format=%H%x00%s', ...revs, '--'], read);
  const reverting = await ctx.git.out(ctx.project.root, ['log', '-z', '-E', '--grep=^This reverts commit [0-9a-f]{40}', '--format=%H%n%b', ...revs, '--'], read);
  const bodies = new Map<string, string>();
  for (const record of reverting.split('\0').filter(Boolean)) {
    const nl = record.indexOf('\n');
    bodies.set(nl < 0 ? record : record.slice(0, nl), nl < 0 ? '' : record.slice(nl + 1));
  }
  return listed.split('\n').filter(Boolean).map((line) => {
    const at = line.indexOf('\0');
    const sha = line.slice(0, at);
    return { sha, subject: line.slice(at + 1), body: bodies.get(sha) ?? '' };
  });
}

/** agentctl's own commits (a run's work, a merge): their messages carry text an agent chose (a follow-up's title). */
const isAgentctlCommit = (c: Pick<Commit, 'subject'>) => c.subject.startsWith('agentctl:');

/**
 * The commits a commit reverts: the lines `git revert` writes, `This reverts commit <full sha>`, in a
 * commit that is not agentctl's own. (An attack session had an agent put "This reverts commit <7 hex>"
 * in a follow-up's title, which agentctl's merge commit carried: any such text anywhere in any message
 * counted, and another run was demoted for a revert that never happened.)
 */
function revertTargets(c: Commit): string[] {
  if (isAgentctlCommit(c)) return [];
  const targets = new Set([...c.body.matchAll(/^This reverts commit ([0-9a-f]{40}(?:[0-9a-f]{24})?)\b/gm)].map((m) => m[1]!));
  return [...targets].slice(0, MAX_REVERT_TARGETS);
}

/** One scan's work: the events found, and what it read about runs (each once). */
class Scan {
  readonly events: EventInput[] = [];
  private readonly runs = new Map<string, RunView | undefined>();
  private readonly files = new Map<string, Set<string>>();
  private readonly recorded = new Set<string>();

  constructor(
    private readonly ctx: Context,
    private readonly project: string,
    private readonly window: number,
  ) {}

  /**
   * Read `commits` in order: a merge in `merges` opens its run's follow-up window; a revert of a run's
   * merge or head is its regression (its window closes); a human commit counts in every open window,
   * and is the follow-up of each run whose files it touches.
   * @param open the open windows, updated in place
   * @returns the shas of the merges in `merges` that were read
   */
  async walk(commits: readonly Commit[], merges: ReadonlyMap<string, Merge>, open: OpenWindow[]): Promise<Set<string>> {
    const seen = new Set<string>();
    for (const [i, c] of commits.entries()) {
      const merge = merges.get(c.sha);
      if (merge) {
        seen.add(c.sha);
        if (this.window > 0) openWindows(open, [{ runId: merge.runId, humans: 0 }]);
        continue;
      }
      if (isAgentctlCommit(c)) continue;
      const targets = revertTargets(c);
      if (targets.length) {
        for (const run of await this.runsOf(targets)) {
          this.record(run, 'regression.detected', `regression:${run.runId}`, { kind: 'revert', commit: c.sha, subject: c.subject });
          removeWindow(open, run.runId);
        }
      }
      if (open.length) await this.countHuman(c, open, commits.slice(i + 1));
    }
    return seen;
  }

  /**
   * A merge recorded after the last scan whose commit the saved tip already covered (merged while that
   * scan ran, or pulled since): its commits up to `tip` are read for it alone, and its window, if still
   * open, joins the branch's.
   * @param open the branch's open windows, updated in place
   * @returns false when the merge is not below `tip` (nothing read)
   */
  async catchUp(merge: Merge, tip: string, open: OpenWindow[]): Promise<boolean> {
    if (!(await this.ctx.git.isAncestor(this.ctx.project.root, merge.sha, tip).catch(() => false))) return false;
    const own: OpenWindow[] = [];
    const commits = await commitsOf(this.ctx, [tip, `^${merge.sha}`]);
    await this.walk([{ sha: merge.sha, subject: '', body: '' }, ...commits], new Map([[merge.sha, merge]]), own);
    openWindows(open, own.filter((w) => !open.some((o) => o.runId === w.runId)));
    return true;
  }

  /**
   * Count human commit `c` in each open window; a window whose run's files it touches records a follow-up and closes.
   * @param later the commits after `c` in the walk (the files of the next human ones are read with c's)
   */
  private async countHuman(c: Commit, open: OpenWindow[], later: readonly Commit[]): Promise<void> {
    const touched = await this.touchedBy(c, later);
    for (const w of [...open]) {
      w.humans += 1;
      const run = this.run(w.runId);
      const files = run ? await this.filesOf(run) : new Set<string>();
      const overlap = touched.filter((p) => files.has(p));
      // A run already reverted or followed up (recorded before a state was rebuilt) gets nothing more.
      if (run && overlap.length && !this.hasEvidence(run.runId)) this.record(run, 'review.followup', `followup:${run.runId}`, { commit: c.sha, subject: c.subject, files: overlap });
      if (overlap.length || w.humans >= this.window) removeWindow(open, w.runId);
    }
  }

  private readonly touched = new Map<string, string[]>();

  /**
   * The paths commit `c` changed (none for a merge, as `git diff-tree` without `-m` shows), read in one
   * `git log --no-walk` with those of up to {@link TOUCHED_BATCH} - 1 later human commits of `later`:
   * a first scan over a long history does not start a process per commit. Each commit's record starts
   * with a random marker chosen for this call, which no file name committed before it can hold.
   */
  private async touchedBy(c: Commit, later: readonly Commit[]): Promise<string[]> {
    const known = this.touched.get(c.sha);
    if (known) return known;
    const batch = [c.sha, ...later.filter((x) => !isAgentctlCommit(x) && !this.touched.has(x.sha)).slice(0, TOUCHED_BATCH - 1).map((x) => x.sha)];
    const marker = `agentctl-${randomBytes(12).toString('hex')}-`;
    const log = await this.ctx.git.out(this.ctx.project.root, ['log', '--no-walk=unsorted', '-z', '--name-only', '--no-renames', `--format=${marker}%H`, ...batch, '--'], { readOnly: true, drivers: false });
    for (const sha of batch) this.touched.set(sha, []);
    let files: string[] | undefined;
    let first = false;
    for (const token of log.split('\0')) {
      if (token.startsWith(marker)) {
        files = this.touched.get(token.slice(marker.length));
        first = true;
      } else if (files && token) {
        files.push(first && token.startsWith('\n') ? token.slice(1) : token);
        first = false;
      }
    }
    return this.touched.get(c.sha) ?? [];
  }

  /** Whether the run already has a regression or follow-up recorded (an index read by run). */
  private hasEvidence(runId: string): boolean {
    return this.recorded.has(runId) || this.ctx.store.query({ runId, types: ['regression.detected', 'review.followup'] }).length > 0;
  }

  private record(run: RunView, type: 'regression.detected' | 'review.followup', key: string, payload: Record<string, unknown>): void {
    if (this.events.some((e) => e.key === key)) return;
    this.recorded.add(run.runId);
    const subject = { runId: run.runId, task: run.task, agent: run.agent, project: this.project, taskType: run.taskType };
    this.events.push({ ...subject, type, key, payload } as EventInput);
  }

  private run(runId: string): RunView | undefined {
    if (!this.runs.has(runId)) this.runs.set(runId, getRun(this.ctx.store, this.project, runId));
    return this.runs.get(runId);
  }

  /**
   * The merged runs whose merge or captured head is one of `shas`. A run is named by its commits'
   * subjects (`agentctl: merge <task> (run <id>)`, `agentctl: <task> (run <id>)`); a name counts only
   * when that run's recorded merge or head is this very commit, so a subject cannot point elsewhere.
   * A commit with another subject (work an unconfined agent, or a person driving a claimed run,
   * committed in the worktree) is looked up among the {@link RECENT_MERGED} newest merged runs.
   */
  private async runsOf(shas: readonly string[]): Promise<RunView[]> {
    const log = await this.ctx.git.out(this.ctx.project.root, ['log', '--no-walk', '--ignore-missing', '-z', '--format=%H%n%s', ...shas, '--'], { readOnly: true, drivers: false });
    const found = new Map<string, RunView>();
    for (const record of log.split('\0').filter(Boolean)) {
      const [sha = '', subject = ''] = record.split('\n');
      let named = false;
      if (isAgentctlCommit({ subject })) {
        for (const m of subject.matchAll(/\brun ([0-9a-z]{26})\b/g)) {
          const run = this.run(m[1]!);
          if (run?.state === 'merged' && (run.mergeSha === sha || run.headSha === sha)) (found.set(run.runId, run), (named = true));
        }
      }
      if (!named) for (const run of this.recentBySha().get(sha) ?? []) found.set(run.runId, run);
    }
    return [...found.values()];
  }

  private recent: Map<string, RunView[]> | undefined;

  /** The {@link RECENT_MERGED} newest merged runs by their merge and head commits (read once per scan, when needed). */
  private recentBySha(): Map<string, RunView[]> {
    if (this.recent) return this.recent;
    this.recent = new Map();
    for (const run of listRuns(this.ctx.store, this.project, { states: ['merged'], limit: RECENT_MERGED }).runs) {
      for (const sha of new Set([run.mergeSha, run.headSha])) if (sha) this.recent.set(sha, [...(this.recent.get(sha) ?? []), run]);
    }
    return this.recent;
  }

  /**
   * Every path a merged run changed: its recorded files, or when the log lists only some of them
   * (RunView.fileCount), all of them from git (base to the captured head; the recorded ones if git no
   * longer has those commits).
   */
  private async filesOf(run: RunView): Promise<Set<string>> {
    let files = this.files.get(run.runId);
    if (files) return files;
    const recorded = run.files.map((f) => f.path);
    let paths = recorded;
    if (run.fileCount > recorded.length && run.headSha) {
      const listed = await this.ctx.git
        .out(this.ctx.project.root, ['diff-tree', '-r', '--no-renames', '--name-only', '-z', run.baseSha, run.headSha], { readOnly: true, drivers: false })
        .catch(() => undefined);
      if (listed !== undefined) paths = listed.split('\0').filter(Boolean);
    }
    files = new Set(paths);
    this.files.set(run.runId, files);
    return files;
  }
}

/** Add `windows` (newest last) to `open`, keeping the newest {@link MAX_OPEN_WINDOWS}. */
function openWindows(open: OpenWindow[], windows: readonly OpenWindow[]): void {
  open.push(...windows);
  if (open.length > MAX_OPEN_WINDOWS) open.splice(0, open.length - MAX_OPEN_WINDOWS);
}

/** Close the window of `runId`, if open. */
function removeWindow(open: OpenWindow[], runId: string): void {
  const i = open.findIndex((w) => w.runId === runId);
  if (i >= 0) open.splice(i, 1);
}
