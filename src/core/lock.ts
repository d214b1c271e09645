/**
 * Cross-process locks on a file (proper-lockfile: a `<file>.lock` directory, refreshed while held, taken
 * over once stale), for the read-modify-write steps agentctl processes share: worktree add/remove/prune
 * and merges on one repository, port leases, the approved-stores file.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Milliseconds after which a lock whose holder stopped refreshing it is taken over. */
const LOCK_STALE_MS = 5000;

/**
 * Hold the lock on `lockPath` while `fn` runs (waits up to ~45 s for other agentctl processes).
 * @param lockPath file path of the lock (created empty if missing, with its folder)
 * @returns what `fn` returns
 * @throws proper-lockfile's ELOCKED error when the lock stays held past the wait; what `fn` throws
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockPath), { recursive: true });
  if (!existsSync(lockPath)) writeFileSync(lockPath, '');
  // The holder refreshes the lock every stale/2 ms; a holder killed with -9 leaves a lock that others
  // take over after LOCK_STALE_MS.
  // Loaded on first use, like execa in runner.ts: read-only commands never take a lock.
  const { default: lockfile } = await import('proper-lockfile');
  const release = await lockfile.lock(lockPath, { retries: { retries: 200, minTimeout: 50, maxTimeout: 300, factor: 1.3 }, stale: LOCK_STALE_MS });
  try {
    return await fn();
  } finally {
    await release();
  }
}
