/**
 * Names shared by the run queue's modules, kept apart from the pg-boss client (boss.ts) so that crash
 * recovery, which every command runs, can read a lease without loading pg-boss.
 */

/** The PostgreSQL schema holding pg-boss's tables. */
export const QUEUE_SCHEMA = 'agentctl_queue';

/** The pg-boss queue of one project's runs. */
export function queueName(project: string): string {
  return `agentctl-runs/${project}`;
}

/** What a queued run carries (a queue job's data). */
export interface QueuedRun {
  /** Project identity (identity.ts): the queue is per project, this double-checks it. */
  project: string;
  task: string;
  /** The branch the run starts from: workers fetch it from the remote and start from its tip. */
  baseBranch: string;
  /** Who queued it (git identity) and from which machine. */
  by: string;
  host: string;
}
