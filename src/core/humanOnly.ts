/**
 * Human-only decisions (promote, demote, breaker reset, resume) are refused from inside a run. Every
 * agent and gate process agentctl starts carries AGENTCTL_RUN_ID in its environment, so its presence
 * means the caller was started by a run. A process can drop the variable: the OS sandbox, which keeps
 * agentctl's home and key out of reach, is the real barrier; this refuses the plain attempt and says why.
 */
import { StateError } from './errors.js';

/**
 * @param decision what was asked, for the message (e.g. "promote")
 * @param env the caller's environment (reads AGENTCTL_RUN_ID; set, even empty, means inside a run)
 * @throws StateError (exit 5) when called from inside a run; nothing has been recorded
 */
export function assertOutsideRun(decision: string, env: NodeJS.ProcessEnv = process.env): void {
  const runId = env.AGENTCTL_RUN_ID;
  if (runId === undefined) return;
  // JSON quoting keeps control characters in the (untrusted) value from reaching the terminal raw.
  throw new StateError(`${decision} is a human decision and is refused from inside a run (AGENTCTL_RUN_ID=${JSON.stringify(runId.slice(0, 64))}); nothing was recorded`, {
    hint: 'Run it yourself, from a terminal that is not inside an agentctl run.',
  });
}
