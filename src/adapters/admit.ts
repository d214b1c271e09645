/**
 * The events a tool's output parser made, as the run may record them. A parser builds payloads from
 * what the agent's tool printed (untrusted: a token count may be text), and the event store refuses a
 * whole append when one payload breaks its schema or cannot be encoded. So such an event is not
 * recorded: in its place, a warning that says which event and field, so the run goes on and the log
 * says what was dropped. Pure.
 */
import { canEncode } from '../evidence/canonical.js';
import { payloadProblem } from '../evidence/eventSchemas.js';
import { clip, type AgentEvent, type StreamParser } from './types.js';

/**
 * @param events a parser's events for one line of output
 * @returns the same events in order, each invalid one replaced by an `agent.message` with severity
 *   `warning` naming its type and the problem (field paths and the schema's words, never the value)
 */
export function admitAgentEvents(events: readonly AgentEvent[]): AgentEvent[] {
  return events.map((e) => {
    const problem = payloadProblem(e.type, e.payload) ?? (canEncode(e.payload) ? undefined : 'a value JSON cannot carry (such as a number beyond ±1.8e308)');
    if (problem === undefined) return e;
    return { type: 'agent.message', payload: { text: `agentctl dropped one ${e.type} event of the agent's output: ${problem}`, severity: 'warning' } };
  });
}

/**
 * A line of the tool's output as events. A parser that throws on a line it was not written for (what a
 * tool prints is untrusted) costs that line, not the run: a warning is recorded in its place.
 * @returns the parser's events, or one `agent.message` warning (the line's length and the error, never the line)
 */
export function parseLine(parser: StreamParser, line: string): AgentEvent[] {
  try {
    return parser.line(line);
  } catch (error) {
    return [{ type: 'agent.message', payload: { text: `agentctl could not read a line of the agent's output (${line.length} characters): ${clip(String((error as Error)?.message ?? error), 200)}`, severity: 'warning' } }];
  }
}
