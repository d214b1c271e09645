/**
 * A year of history, generated deterministically: runs shaped like the ones agentctl writes (the event
 * types, subjects and payload fields a real `command`/tool run records, checked against a real run's
 * log), exactly 10 events each, for 1 project, 3 agents × 4 task types. Pure (no IO).
 *
 * Every 10 runs: 4 auto merges (gated), 3 review merges, 1 review discard, 2 failed runs discarded.
 */
import type { EventInput } from '../../src/evidence/events.js';

export const PROJECT = 'bench';
export const AGENTS = ['claude', 'gemini', 'codex'] as const;
export const TASK_TYPES = ['docs', 'fix', 'feature', 'test'] as const;
/** Events per generated run. */
export const EVENTS_PER_RUN = 10;

type Kind = 'auto' | 'reviewMerged' | 'reviewDiscarded' | 'failed';
// Spread so no 5-run window has a rejection rate that would demote a profile (trust rules' default 0.5).
const KINDS: readonly Kind[] = ['auto', 'reviewMerged', 'auto', 'failed', 'auto', 'reviewMerged', 'auto', 'reviewDiscarded', 'reviewMerged', 'failed'];

const POLICY = {
  commandsAllow: ['ls', 'cat', 'head', 'tail', 'wc', 'mkdir', 'git status', 'git diff', 'git log', 'git show', 'npm test', 'npm run test', 'npm run lint', 'npx vitest', 'pytest', 'go test', 'cargo test', 'make test'],
  commandsDeny: ['git push', 'git config', 'git remote', 'curl', 'wget', 'ssh', 'scp', 'sudo', 'npm publish', 'npm install', 'pip install', 'grep', 'egrep', 'fgrep', 'rg', 'find'],
  deny: ['.env', '.env.*', '*.pem', '*.key', 'id_rsa*', 'id_ed25519*', '~/.ssh/**', '~/.aws/**', '~/.config/gcloud/**', '~/.azure/**', '~/.netrc', '~/.npmrc', '.github/**', '.gitlab-ci.yml', '.circleci/**', '.ci/**'],
  narrowed: false,
  network: false,
  profiles: ['implement'],
  read: ['**'],
  sandbox: 'os',
  write: ['src/**', 'lib/**', 'app/**', 'pkg/**', 'cmd/**', 'internal/**', 'test/**', 'tests/**', 'spec/**', '__tests__/**', 'docs/**', 'examples/**', '*.md', '.agentctl/status.jsonl', '.agentctl/trace.jsonl', '.agentctl/escalate.json', '.agentctl/followups.jsonl', '.agentctl/handover.md'],
  yolo: false,
};

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
function base32(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = CROCKFORD[n % 32]! + out;
    n = Math.floor(n / 32);
  }
  return out;
}

function hex(rand: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, length);
}

/** A merge's id: the real one, or random (drawn either way, so the rest of the run is the same). */
const mergeSha = (rand: () => number, commits: RunCommits | undefined): string => {
  const random = hex(rand, 40);
  return commits?.merge ?? random;
};

/** The 12 promotions to `auto` a human recorded before the year's runs (so auto merges are plausible). */
export function promotions(startMs: number): EventInput[] {
  return AGENTS.flatMap((agent, a) =>
    TASK_TYPES.map((taskType, t) => ({
      type: 'trust.promoted' as const,
      agent,
      project: PROJECT,
      taskType,
      ts: new Date(startMs + (a * 4 + t) * 1000).toISOString(),
      payload: { agent, project: PROJECT, taskType, from: 'review', to: 'auto', by: 'dev@example.com', host: null, note: 'ten clean merges', forced: false, missing: [], evidence: {} },
    })),
  );
}

/** Who run number `i` of `total` is: its id, task, agent and type, and when it was planned (ms). */
export function runIdentity(i: number, total: number, endMs: number): { runId: string; task: string; agent: string; taskType: string; plannedMs: number } {
  const agent = AGENTS[i % AGENTS.length]!;
  const taskType = TASK_TYPES[Math.floor(i / AGENTS.length) % TASK_TYPES.length]!;
  const yearMs = 365 * 24 * 3600 * 1000;
  const plannedMs = endMs - yearMs + Math.floor(((i + 0.5) * yearMs) / total);
  return { runId: base32(plannedMs, 10) + base32(i, 16), task: `${taskType}-${agent}-${i % 97}`, agent, taskType, plannedMs };
}

/** Whether run number `i` is merged (auto, or by a reviewer): 7 runs in 10. */
export function isMerged(i: number): boolean {
  const kind = KINDS[i % KINDS.length]!;
  return kind === 'auto' || kind === 'reviewMerged';
}

/** The commits of a merged run in the bench's repository: the base it started from, its work, its merge. */
export interface RunCommits {
  base: string;
  head: string;
  merge: string;
}

/**
 * The events of run number `i` (0-based) of `total` runs spread evenly over the year ending at `endMs`.
 * @param commits a merged run's real commits (fixtures.ts historyRepo); without them its ids are random
 * @returns exactly {@link EVENTS_PER_RUN} events, in the order agentctl writes them
 */
export function runEvents(i: number, total: number, endMs: number, repoRoot: string, commits?: RunCommits): EventInput[] {
  const rand = rng(i + 1);
  const kind = KINDS[i % KINDS.length]!;
  const { runId, task, agent, taskType, plannedMs } = runIdentity(i, total, endMs);
  let t = plannedMs;
  const subject = { runId, task, agent, project: PROJECT, taskType };
  const ts = (stepMs: number) => new Date((t += stepMs)).toISOString();
  const randomBase = hex(rand, 40);
  const randomHead = hex(rand, 40);
  const baseSha = commits?.base ?? randomBase;
  const headSha = commits?.head ?? randomHead;
  const branch = `agentctl/${task}/${runId}`;
  const path = `/home/dev/.local/share/agentctl/worktrees/bench-1a2b3c4d/${task}-${runId}`;
  const gated = kind === 'auto';
  const effective = kind === 'auto' ? 'auto' : 'review';
  const files = kind === 'failed' ? [] : Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, k) => ({ path: `src/module${Math.floor(rand() * 50)}/file${k}.ts`, insertions: Math.floor(rand() * 80), deletions: Math.floor(rand() * 30) }));
  const insertions = files.reduce((n, f) => n + f.insertions, 0);
  const deletions = files.reduce((n, f) => n + f.deletions, 0);
  const durationMs = 20_000 + Math.floor(rand() * 600_000);
  // The payloads below are checked against their schemas when the store appends them (not by the compiler: one helper builds every type).
  const e = (type: EventInput['type'], stepMs: number, payload: Record<string, unknown>): EventInput => ({ ...subject, type, ts: ts(stepMs), payload }) as EventInput;

  const events: EventInput[] = [
    e('run.planned', 0, {
      baseBranch: 'main', baseSha, claim: false, effective, gate: gated ? 'npm test' : null, ownerPid: 10_000 + (i % 50_000), ownerStart: String(100_000 + i),
      profiles: ['implement'], reasons: [`requested ${effective}`], repoRoot, requested: effective, requestedBy: null, sandbox: 'os', taskFile: `tasks/${task}.md`, timeoutMs: 1_800_000, title: `Bench task ${i % 97} (${taskType})`,
    }),
    e('sandbox.created', 30, { baseSha, branch, gitDir: `${repoRoot}/.git/worktrees/${task}-${runId}`, path }),
    e('policy.rendered', 6, { args: [], files: [], policy: POLICY, sandbox: 'os', sandboxSource: 'default', tool: agent }),
    e('agent.launched', 13, { args: [], bin: agent, interactive: false, pid: 20_000 + (i % 40_000), pidStart: String(200_000 + i), sandbox: 'os', timeoutMs: 1_800_000 }),
  ];
  if (kind === 'failed') {
    events.push(
      e('agent.exited', durationMs, { durationMs, error: 'the tool exited 1: rate limited by the provider, try again later', exitCode: 1, interrupted: false, signal: null, stoppedBy: null, summary: null, timedOut: false }),
      e('run.decided', 40, { outcome: 'failed', reasons: ['the agent did not finish successfully; review or discard it'] }),
      e('run.failed', 5, { error: 'agent exited 1', step: 'agent' }),
      e('review.rejected', 3_600_000, { by: 'dev@example.com', reason: 'provider outage' }),
      e('run.discarded', 20, { archiveRef: `refs/agentctl/archive/${runId}`, by: 'dev@example.com', headSha: baseSha, reason: 'provider outage' }),
      e('sandbox.removed', 90, { branchDeleted: branch, path }),
    );
    return events;
  }
  const summary = `Updated ${files.length} file(s) for the ${taskType} task: ${files.map((f) => f.path).join(', ')}. Tests pass locally.`;
  events.push(
    e('agent.exited', durationMs, { durationMs, error: null, exitCode: 0, interrupted: false, signal: null, stoppedBy: null, summary, timedOut: false }),
    e('sandbox.committed', 120, { branchRepaired: null, deletions, files, headSha, insertions }),
  );
  if (kind === 'auto') {
    events.push(
      e('gate.passed', 9_000, { command: 'npm test', durationMs: 8_800, exitCode: 0, output: ' Test Files  12 passed (12)\n      Tests  148 passed (148)\n', sandbox: 'os', timedOut: false }),
      e('run.decided', 30, { outcome: 'merge', reasons: ['effective autonomy is auto', 'earned level is auto', 'gate passed'] }),
      e('run.merged', 400, { auto: true, baseBranch: 'main', by: 'agentctl', mergeSha: mergeSha(rand, commits), strategy: 'merge' }),
      e('sandbox.removed', 90, { branchDeleted: branch, path }),
    );
    return events;
  }
  events.push(e('run.decided', 30, { outcome: 'review', reasons: ['effective autonomy is review', 'earned level is auto'] }));
  const reviewDelay = 600_000 + Math.floor(rand() * 7_200_000);
  if (kind === 'reviewMerged') {
    events.push(
      e('review.approved', reviewDelay, { by: 'dev@example.com', note: rand() < 0.3 ? 'looks good' : null }),
      e('run.merged', 400, { auto: false, baseBranch: 'main', by: 'dev@example.com', mergeSha: mergeSha(rand, commits), strategy: 'merge' }),
      e('sandbox.removed', 90, { branchDeleted: branch, path }),
    );
  } else {
    events.push(
      e('review.rejected', reviewDelay, { by: 'dev@example.com', reason: 'wrong approach' }),
      e('run.discarded', 20, { archiveRef: `refs/agentctl/archive/${runId}`, by: 'dev@example.com', headSha, reason: 'wrong approach' }),
      e('sandbox.removed', 90, { branchDeleted: branch, path }),
    );
  }
  return events;
}
