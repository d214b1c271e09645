/**
 * The kill switch and breaker resets. `halt` works from any terminal and needs no repository: it
 * records the halt (every run's guard then stops its agent and no run starts) and kills the process
 * tree of every agent still running, in every project of this AGENTCTL_HOME.
 */
import { payloadOf } from '../evidence/eventSchemas.js';
import { hostname, userInfo } from 'node:os';
import { AgentctlError, StateError } from '../core/errors.js';
import { assertOutsideRun } from '../core/humanOnly.js';
import type { StoredEvent } from '../evidence/events.js';
import { breakerKey, type BreakerName, type Controls } from '../evidence/projections/breakers.js';
import { projectRuns } from '../evidence/projections/runs.js';
import { listRuns, projectsWithRuns } from '../evidence/runsStore.js';
import type { EventStore } from '../evidence/store.js';
import { isProcessAlive, stopRunProcesses } from '../exec/processes.js';

/** Who is at the keyboard (for halt/resume events, which have no repository to ask git in). */
export function operator(env: NodeJS.ProcessEnv = process.env): string {
  return env.AGENTCTL_OPERATOR ?? env.USER ?? userInfo().username;
}

/** A run whose agent was killed by a halt. */
export interface Stopped {
  runId: string;
  project: string;
  task: string;
  agentPid: number;
}

/** A run in state `running` and its agent (the process agentctl launched), as read from the log and /proc. */
interface RunningRun {
  runId: string;
  project: string;
  task: string;
  agentPid: number;
  /** The launched process (same pid and start time) is alive. */
  alive: boolean;
}

/** Every run in state `running` in the log, with whether its launched agent process is alive now. */
function runningRuns(store: EventStore): Map<string, RunningRun> {
  const out = new Map<string, RunningRun>();
  // Every project whose runs projection exists (each command of a project keeps it current, and a run
  // starts from one), read through the state index; each candidate is then folded from its own events.
  let candidates: { runId: string }[];
  try {
    candidates = projectsWithRuns(store).flatMap((project) => listRuns(store, project, { states: ['running'] }).runs);
  } catch (error) {
    // A log that cannot be written (opened for inspection: it fails verification) has no usable
    // projections: the kill switch still finds every running run, the slow way.
    if (!(error instanceof AgentctlError)) throw error;
    candidates = [...projectRuns(store.query({})).values()].filter((r) => r.state === 'running');
  }
  for (const candidate of candidates) {
    const events = store.query({ runId: candidate.runId });
    const run = projectRuns(events).get(candidate.runId);
    if (!run || run.state !== 'running') continue;
    const e = events.find((x) => x.type === 'agent.launched');
    const launched = e && payloadOf(e, 'agent.launched');
    const agentPid = launched?.pid ?? 0;
    const alive = agentPid > 0 && isProcessAlive(agentPid, launched?.pidStart ?? undefined);
    out.set(run.runId, { runId: run.runId, project: run.project, task: run.task, agentPid, alive });
  }
  return out;
}

/**
 * Halt everything: record `system.halted`, then stop every live run's processes: the agent's whole tree
 * (its process group and every process carrying the run's id, which in the OS sandbox is its PID
 * namespace), with SIGTERM, a wait, SIGKILL, and a check that they are gone.
 *
 * Which agents were running is read before the halt is recorded: once it is, each run's own watcher
 * stops its agent too, and may get there first, so what this process still finds afterwards would
 * under-report (and print "no agent was running" while agents were being stopped).
 * @returns the halt event, the runs whose agent was running and has been stopped, and any process that
 *   survived (by run)
 */
export async function halt(store: EventStore, by: string, reason: string): Promise<{ event: StoredEvent; stopped: Stopped[]; survivors: { runId: string; pids: number[] }[] }> {
  const before = runningRuns(store);
  const [event] = store.append({ type: 'system.halted', payload: { by, host: hostname(), reason } });
  return { event: event!, ...(await stopRunning(store, before)) };
}

/**
 * Stop every running run's processes without recording anything: what `halt` does after recording the
 * halt, and all it can do when the log refuses writes (it fails verification; then no run can start either).
 * @param before the running runs read earlier (runs that launched since are stopped as well)
 * @returns the runs stopped and any process that survived SIGKILL
 */
export async function stopRunning(store: EventStore, before = runningRuns(store)): Promise<{ stopped: Stopped[]; survivors: { runId: string; pids: number[] }[] }> {
  const now = runningRuns(store);
  const stopped: Stopped[] = [];
  const survivors: { runId: string; pids: number[] }[] = [];
  await Promise.all(
    [...new Set([...before.keys(), ...now.keys()])].map(async (runId) => {
      const run = (now.get(runId) ?? before.get(runId))!;
      const wasAlive = before.get(runId)?.alive === true || now.get(runId)?.alive === true;
      // The agent's process group only while the launched process is the same one (a pid can be reused).
      const result = await stopRunProcesses(runId, now.get(runId)?.alive ? run.agentPid : undefined);
      if (wasAlive || result.signalled.length) stopped.push({ runId, project: run.project, task: run.task, agentPid: run.agentPid || result.signalled[0]! });
      if (result.survivors.length) survivors.push({ runId, pids: result.survivors });
    }),
  );
  return { stopped, survivors };
}

/**
 * Lift the halt (a human decision).
 * @param env the caller's environment (default: this process's)
 * @returns the stored `system.resumed` event
 * @throws StateError when called from inside a run (AGENTCTL_RUN_ID set)
 */
export function resume(store: EventStore, by: string, note: string | undefined, env: NodeJS.ProcessEnv = process.env): StoredEvent {
  assertOutsideRun('resume', env);
  return store.append({ type: 'system.resumed', payload: { by, host: hostname(), note: note ?? null } })[0]!;
}

/**
 * Reset a tripped breaker (a human decision): records `breaker.reset`; counting starts again after it.
 * @param controls the current control state (to check the breaker is tripped)
 * @param env the caller's environment (default: this process's)
 * @returns the stored event
 * @throws StateError when called from inside a run (AGENTCTL_RUN_ID set), or when the breaker is not
 *   tripped for that agent in that project
 */
export function resetBreaker(store: EventStore, controls: Controls, breaker: BreakerName, agent: string, project: string, by: string, note: string | undefined, env: NodeJS.ProcessEnv = process.env): StoredEvent {
  assertOutsideRun('breaker reset', env);
  if (!controls.tripped[breakerKey(breaker, agent, project)]) throw new StateError(`breaker "${breaker}" is not tripped for ${agent} in ${project}`);
  const [event] = store.append({ type: 'breaker.reset', agent, project, payload: { breaker, agent, project, by, host: hostname(), note: note ?? null } });
  return event!;
}
