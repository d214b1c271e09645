/**
 * The kill switch and breaker resets. `halt` works from any terminal and needs no repository: it
 * records the halt (every run's guard then stops its agent and no run starts) and kills the process
 * tree of every agent still running, in every project of this AGENTCTL_HOME.
 */
import { userInfo } from 'node:os';
import { StateError } from '../core/errors.js';
import type { StoredEvent } from '../evidence/events.js';
import { breakerKey, type BreakerName, type Controls } from '../evidence/projections/breakers.js';
import { projectRuns } from '../evidence/projections/runs.js';
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

/**
 * Halt everything: record `system.halted`, then stop every live run's processes: the agent's whole tree
 * (its process group and every process carrying the run's id, which in the OS sandbox is its PID
 * namespace), with SIGTERM, a wait, SIGKILL, and a check that they are gone.
 * @returns the halt event, the runs whose processes were stopped, and any process that survived (by run)
 */
export async function halt(store: EventStore, by: string, reason: string): Promise<{ event: StoredEvent; stopped: Stopped[]; survivors: { runId: string; pids: number[] }[] }> {
  const [event] = store.append({ type: 'system.halted', payload: { by, reason } });
  const events = store.query({});
  const stopped: Stopped[] = [];
  const survivors: { runId: string; pids: number[] }[] = [];
  await Promise.all(
    [...projectRuns(events).values()].map(async (run) => {
      if (run.state !== 'running') return;
      const launched = events.find((e) => e.runId === run.runId && e.type === 'agent.launched')?.payload;
      const pid = Number(launched?.pid ?? 0);
      const group = pid && isProcessAlive(pid, (launched?.pidStart as string | null) ?? undefined) ? pid : undefined;
      const result = await stopRunProcesses(run.runId, group);
      if (result.signalled.length) stopped.push({ runId: run.runId, project: run.project, task: run.task, agentPid: pid || result.signalled[0]! });
      if (result.survivors.length) survivors.push({ runId: run.runId, pids: result.survivors });
    }),
  );
  return { event: event!, stopped, survivors };
}

/** Lift the halt. */
export function resume(store: EventStore, by: string, note: string | undefined): StoredEvent {
  return store.append({ type: 'system.resumed', payload: { by, note: note ?? null } })[0]!;
}

/**
 * Reset a tripped breaker (a human decision): records `breaker.reset`; counting starts again after it.
 * @param controls the current control state (to check the breaker is tripped)
 * @returns the stored event
 * @throws StateError when the breaker is not tripped for that agent in that project
 */
export function resetBreaker(store: EventStore, controls: Controls, breaker: BreakerName, agent: string, project: string, by: string, note: string | undefined): StoredEvent {
  if (!controls.tripped[breakerKey(breaker, agent, project)]) throw new StateError(`breaker "${breaker}" is not tripped for ${agent} in ${project}`);
  const [event] = store.append({ type: 'breaker.reset', agent, project, payload: { breaker, agent, project, by, note: note ?? null } });
  return event!;
}
