/**
 * Process identity and liveness, for crash recovery: a pid alone can be reused, so agentctl records a
 * pid together with its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) and treats a
 * process as the same one only when both match.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Start time of a process (clock ticks since boot, as text), or undefined when it does not exist or /proc is unavailable. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // a zombie is dead for our purposes
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * True when the process `pid` that started at `startTime` is still running.
 * Without /proc (not Linux), falls back to "a process with this pid exists".
 */
export function isProcessAlive(pid: number, startTime: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = processStartTime(pid);
  if (now !== undefined) return startTime === undefined || now === startTime;
  try {
    process.kill(pid, 0);
    return startTime === undefined && !existsProc();
  } catch {
    return false;
  }
}

function existsProc(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

/** Kill a process group (the agent and everything it started). Returns false when the group was already gone. */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Send `signal` (default SIGKILL) to each of `pids` now; synchronous, for callers that cannot wait (crash
 * recovery) and for {@link stopRunProcesses}.
 * @returns the pids that were signalled (those already gone are left out)
 */
export function killProcesses(pids: readonly number[], signal: NodeJS.Signals = 'SIGKILL'): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  });
}

/** The environment variable every process of a run carries (set by the run pipeline). */
export const RUN_ID_VARIABLE = 'AGENTCTL_RUN_ID';

/**
 * Processes that belong to a run: every live process whose environment carries
 * `AGENTCTL_RUN_ID=<runId>` (inherited by all it starts, also across `setsid`/`nohup`), plus the members
 * of `processGroup` when given. Linux only (reads /proc); elsewhere only the process group is found.
 * @returns pids, ascending; agentctl's own process is never included
 */
export function findRunProcesses(runId: string, processGroup?: number): number[] {
  const needle = `${RUN_ID_VARIABLE}=${runId}`;
  const found = new Set<number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    /* not Linux */
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      if (processGroup !== undefined && Number(fields[2]) === processGroup) {
        found.add(pid);
        continue;
      }
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) found.add(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  if (processGroup !== undefined && entries.length === 0) {
    try {
      process.kill(-processGroup, 0);
      found.add(processGroup);
    } catch {
      /* group empty */
    }
  }
  return [...found].sort((a, b) => a - b);
}

/** Grace period between SIGTERM and SIGKILL when stopping a run's processes, in milliseconds. */
export const STOP_GRACE_MS = 3000;

/**
 * Stop every process of a run and make sure they are gone: SIGTERM (to the group and each process),
 * wait up to `graceMs`, SIGKILL whatever is left, wait again, and report who survived.
 * @param runId the run whose processes are stopped ({@link findRunProcesses})
 * @param processGroup the agent's process group, when known
 * @returns `{signalled, survivors}`: pids that got a signal, and pids still alive at the end (empty on success)
 */
export async function stopRunProcesses(runId: string, processGroup: number | undefined, graceMs = STOP_GRACE_MS): Promise<{ signalled: number[]; survivors: number[] }> {
  const signalled = findRunProcesses(runId, processGroup);
  if (signalled.length === 0) return { signalled, survivors: [] };
  const send = (signal: NodeJS.Signals, pids: readonly number[]) => {
    if (processGroup !== undefined) killProcessGroup(processGroup, signal);
    killProcesses(pids, signal);
  };
  send('SIGTERM', signalled);
  let left = await waitGone(runId, processGroup, graceMs);
  if (left.length) {
    send('SIGKILL', left);
    left = await waitGone(runId, processGroup, 2000);
  }
  return { signalled, survivors: left };
}

/** Poll until no process of the run is left or `ms` have passed; returns what is left. */
async function waitGone(runId: string, processGroup: number | undefined, ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let left = findRunProcesses(runId, processGroup);
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = findRunProcesses(runId, processGroup);
  }
  return left;
}

/**
 * Kill (SIGKILL) every process still carrying the run's id: what an agent left behind after it exited.
 * @returns the pids that were killed
 */
export async function killRunProcesses(runId: string): Promise<number[]> {
  const left = findRunProcesses(runId);
  if (left.length === 0) return [];
  const { signalled } = await stopRunProcesses(runId, undefined, 0);
  return signalled;
}
