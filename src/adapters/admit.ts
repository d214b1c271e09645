/**
 * The events a tool's output parser made, as the run may record them. A parser builds payloads from
 * what the agent's tool printed (untrusted: a token count may be text, a tool input may hold `1e400`, which parses to Infinity),
 * and the event store refuses a whole append when one payload breaks its schema. So an event that
 * breaks it is not recorded as such: in its place, a warning that says which event and field, so the
 * run goes on and the log says what was dropped. Pure.
 */
import { canEncode } from '../evidence/canonical.js';
import { payloadProblem } from '../evidence/eventSchemas.js';
import type { AgentEvent } from './types.js';

/**
 * @param events a parser's events for one line of output
 * @returns the same events in order, each invalid one replaced by an `agent.message` with severity
 *   `warning` naming its type and the problem (field paths and the schema's words, never the value)
 */
export function admitAgentEvents(events: readonly AgentEvent[]): AgentEvent[] {
  return events.map((e) => {
    const problem = payloadProblem(e.type, e.payload) ?? (canEncode(e.payload) ? undefined : 'a value JSON cannot carry (a number beyond ±1.8e308)');
    if (problem === undefined) return e;
    return { type: 'agent.message', payload: { text: `agentctl dropped one ${e.type} event of the agent's output: ${problem}`, severity: 'warning' } };
  });
}
