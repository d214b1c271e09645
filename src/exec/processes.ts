/**
 * Process identity and liveness, for crash recovery: a pid alone can be reused, so agentctl records a
 * pid together with its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) and treats a
 * process as the same one only when both match.
 */
import { readFileSync } from 'node:fs';

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
