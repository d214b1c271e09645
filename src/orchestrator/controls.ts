/**
 * The kill switch and breaker resets. `halt` works from any terminal and needs no repository: it
 * records the halt (every run's guard then stops its agent and no run starts) and kills the process
 * tree of every agent still running, in every project of this AGENTCTL_HOME.
 */
import { userInfo } from 'node:os';
import { StateError } from '../core/errors.js';
import { assertOutsideRun } from '../core/humanOnly.js';
import type { StoredEvent } from '../evidence/events.js';
import { breakerKey, type BreakerName, type Controls } from '../evidence/projections/breakers.js';
import { projectRuns } from '../evidence/projections/runs.js';
import type { EventStore } from '../evidence/store.js';
import { isProcessAlive, killProcessGroup } from '../exec/processes.js';

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
 * Halt everything: record `system.halted`, then kill every live agent process tree.
 * @returns the halt event and the runs whose agents were killed
 */
export function halt(store: EventStore, by: string, reason: string): { event: StoredEvent; stopped: Stopped[] } {
  const [event] = store.append({ type: 'system.halted', payload: { by, reason } });
  const events = store.query({});
  const stopped: Stopped[] = [];
  for (const run of projectRuns(events).values()) {
    if (run.state !== 'running') continue;
    const launched = events.find((e) => e.runId === run.runId && e.type === 'agent.launched')?.payload;
    const pid = Number(launched?.pid ?? 0);
    if (pid && isProcessAlive(pid, (launched?.pidStart as string | null) ?? undefined) && killProcessGroup(pid, 'SIGTERM')) {
      setTimeout(() => killProcessGroup(pid, 'SIGKILL'), 2000).unref();
      stopped.push({ runId: run.runId, project: run.project, task: run.task, agentPid: pid });
    }
  }
  return { event: event!, stopped };
}

/**
 * Lift the halt (a human decision).
 * @param env the caller's environment (default: this process's)
 * @returns the stored `system.resumed` event
 * @throws StateError when called from inside a run (AGENTCTL_RUN_ID set)
 */
export function resume(store: EventStore, by: string, note: string | undefined, env: NodeJS.ProcessEnv = process.env): StoredEvent {
  assertOutsideRun('resume', env);
  return store.append({ type: 'system.resumed', payload: { by, note: note ?? null } })[0]!;
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
  const [event] = store.append({ type: 'breaker.reset', agent, project, payload: { breaker, agent, project, by, note: note ?? null } });
  return event!;
}
