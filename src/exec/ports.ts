/**
 * Blocks of free TCP ports for runs (`AGENTCTL_PORT` and the ones after it), so parallel runs of a dev
 * server never pick the same port. A block is leased by a file `<dir>/<run>.json` naming its owner
 * process; leases are taken under one lock, first fit from {@link PORT_MIN}, and a block is only
 * handed out when every port in it can be bound on 127.0.0.1 right now. A lease whose owner process is
 * gone (a crash, kill -9) is stale and reclaimed; a finished run releases its own.
 *
 * In the OS sandbox a run has its own network namespace, so its ports are private anyway; the lease
 * matters for `sandbox: none` runs and keeps the variables meaningful everywhere.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { StateError } from '../core/errors.js';
import { isProcessAlive, processStartTime } from './processes.js';
import { withFileLock } from '../core/lock.js';

/** Lowest port handed out (above the usual dev-server defaults 3000/5173/8080). */
export const PORT_MIN = 20000;
/** Highest port handed out. */
export const PORT_MAX = 60999;

/** A leased block: ports `first` .. `first + count - 1`. */
export interface PortBlock {
  first: number;
  count: number;
}

interface Lease extends PortBlock {
  runId: string;
  pid: number;
  pidStart: string | null;
}

const leaseFile = (dir: string, runId: string) => join(dir, `${runId}.json`);

/** True when `port` can be bound on 127.0.0.1 now (and is released at once). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The live leases in `dir`; stale ones (owner process gone) and unreadable files are removed. */
function liveLeases(dir: string): Lease[] {
  const out: Lease[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    let lease: Lease | undefined;
    try {
      lease = JSON.parse(readFileSync(path, 'utf8')) as Lease;
    } catch {
      lease = undefined;
    }
    if (lease && Number.isInteger(lease.first) && Number.isInteger(lease.count) && isProcessAlive(lease.pid, lease.pidStart ?? undefined)) out.push(lease);
    else rmSync(path, { force: true });
  }
  return out;
}

/**
 * Lease a block of `count` consecutive free ports for a run, held until {@link releasePorts} or until
 * this process ends.
 * @param dir the lease folder (core/paths.ts portLeasesDir), created if missing
 * @param runId the run holding the block (one block per run: a second call replaces the first)
 * @param count ports in the block (1..100)
 * @returns the block
 * @throws StateError when no block of that size is free between PORT_MIN and PORT_MAX
 */
export async function reservePorts(dir: string, runId: string, count: number): Promise<PortBlock> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return withFileLock(join(dir, '.lock'), async () => {
    rmSync(leaseFile(dir, runId), { force: true });
    const taken = liveLeases(dir);
    let first = PORT_MIN;
    while (first + count - 1 <= PORT_MAX) {
      const clash = taken.find((l) => first < l.first + l.count && l.first < first + count);
      if (clash) {
        first = clash.first + clash.count;
        continue;
      }
      let busy: number | undefined;
      for (let port = first; port < first + count; port++) {
        if (!(await canBind(port))) {
          busy = port;
          break;
        }
      }
      if (busy !== undefined) {
        first = busy + 1;
        continue;
      }
      const lease: Lease = { runId, first, count, pid: process.pid, pidStart: processStartTime(process.pid) ?? null };
      writeFileSync(leaseFile(dir, runId), JSON.stringify(lease) + '\n', { mode: 0o600 });
      return { first, count };
    }
    throw new StateError(`no block of ${count} free ports between ${PORT_MIN} and ${PORT_MAX} (ports leased by running runs: ${taken.reduce((n, l) => n + l.count, 0)})`, {
      hint: 'Lower worktree.ports in .agentrc.yaml, or wait for running runs to end.',
    });
  });
}

/** Release a run's block (nothing happens when it holds none). */
export function releasePorts(dir: string, runId: string): void {
  rmSync(leaseFile(dir, runId), { force: true });
}

/** The environment variables a run gets for its block: `AGENTCTL_PORT` (the first) and `AGENTCTL_PORT_COUNT`. */
export function portEnv(block: PortBlock | undefined): Record<string, string> {
  return block ? { AGENTCTL_PORT: String(block.first), AGENTCTL_PORT_COUNT: String(block.count) } : {};
}
