/**
 * The events a tool's output parser made, as the run may record them. A parser builds payloads from
 * what the agent's tool printed (untrusted: a token count may be text), and the event store refuses a
 * whole append when one payload breaks its schema or cannot be encoded. So such an event is not
 * recorded: in its place, a warning that says which event and field, so the run goes on and the log
 * says what was dropped. And how many of them a launch records ({@link OutputBudget}). Pure (the
 * budget reads a clock).
 */
import { Quota } from '../core/quota.js';
import { canEncode } from '../evidence/canonical.js';
import { payloadProblem, type EventPayloads } from '../evidence/eventSchemas.js';
import type { EventOf } from '../evidence/events.js';
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

/**
 * How many events of one launch's output the log records: messages, tool calls and results, file
 * changes and denials together (a long real session writes a few thousand). The rest are counted, not
 * recorded: the log is append-only, so an agent printing a million lines would otherwise add a million
 * events (measured: 20,000 lines of output made 20,000 events, 9.8 MB, in 9 s) that no one can remove.
 */
export const MAX_RECORDED_OUTPUT_EVENTS = 10_000;

/** How many `escalation.attempted` events one launch records; the rest are counted. */
export const MAX_RECORDED_ESCALATIONS = 1_000;

/**
 * Past {@link MAX_RECORDED_OUTPUT_EVENTS}, usage reports are still recorded (trust and the cost breaker
 * count them), summed: one `agent.usage` event at most this often (ms) while reports keep coming, and
 * one at the end.
 */
export const USAGE_SUM_MS = 5_000;

/** An event the launch stage records from the agent's output. */
export type OutputEvent = AgentEvent | EventOf<'escalation.attempted'>;

/**
 * What one launch of an agent records of its output: the first {@link MAX_RECORDED_OUTPUT_EVENTS}
 * output events and {@link MAX_RECORDED_ESCALATIONS} escalation attempts; past that, each type is
 * counted, and usage reports are summed (see {@link USAGE_SUM_MS}). Pure but for `now`.
 */
export class OutputBudget {
  private readonly output: Quota;
  private readonly escalations: Quota;
  /** Events counted, not recorded, by type. */
  readonly dropped = new Map<OutputEvent['type'], number>();
  private usage: EventPayloads['agent.usage'] | undefined;
  private usageSince = 0;
  private usageSummed = 0;

  /**
   * @param now clock in ms (for {@link USAGE_SUM_MS})
   * @param limits the caps (tests may lower them)
   */
  constructor(
    private readonly now: () => number = Date.now,
    limits = { output: MAX_RECORDED_OUTPUT_EVENTS, escalations: MAX_RECORDED_ESCALATIONS },
  ) {
    this.output = new Quota(limits.output);
    this.escalations = new Quota(limits.escalations);
  }

  /**
   * @param events what one line of output produced, in order
   * @returns the events to record now, in order (a usage sum comes after them)
   */
  admit(events: readonly OutputEvent[]): OutputEvent[] {
    const out: OutputEvent[] = [];
    for (const reported of events) {
      const e = reported.type === 'agent.usage' ? { ...reported, payload: spentOnly(reported.payload) } : reported;
      if (e.type === 'escalation.attempted') {
        if (this.escalations.take()) out.push(e);
        else this.count(e.type);
      } else if (this.output.take()) {
        out.push(e);
      } else if (e.type === 'agent.usage') {
        this.addUsage(e.payload);
      } else {
        this.count(e.type);
      }
    }
    if (this.usage && this.now() - this.usageSince >= USAGE_SUM_MS) out.push(this.takeUsage());
    return out;
  }

  /**
   * Once the agent has exited.
   * @returns the usage summed since the last one recorded (if any), then one `agent.message` warning
   *   naming what was counted and not recorded (if anything was)
   */
  finish(): OutputEvent[] {
    const out: OutputEvent[] = [];
    if (this.usage) out.push(this.takeUsage());
    const counted = [...this.dropped].map(([type, n]) => `${n} ${type}`);
    if (counted.length || this.usageSummed) {
      const summed = this.usageSummed ? `${counted.length ? '; ' : ''}${this.usageSummed} usage report(s) were recorded summed` : '';
      out.push({ type: 'agent.message', payload: { text: `agentctl recorded the first ${this.output.max} events of the agent's output${this.escalations.over ? ` and the first ${this.escalations.max} escalation attempts` : ''}; counted, not recorded: ${counted.join(', ') || 'nothing'}${summed}`, severity: 'warning' } });
    }
    return out;
  }

  private count(type: OutputEvent['type']): void {
    this.dropped.set(type, (this.dropped.get(type) ?? 0) + 1);
  }

  private addUsage(p: EventPayloads['agent.usage']): void {
    this.usageSummed++;
    if (!this.usage) {
      this.usage = { ...p };
      this.usageSince = this.now();
      return;
    }
    const u = this.usage;
    this.usage = { inputTokens: finiteSum(u.inputTokens, p.inputTokens), outputTokens: finiteSum(u.outputTokens, p.outputTokens), costUsd: nullableSum(u.costUsd, p.costUsd), turns: nullableSum(u.turns, p.turns) };
  }

  private takeUsage(): EventOf<'agent.usage'> {
    const payload = this.usage!;
    this.usage = undefined;
    return { type: 'agent.usage', payload };
  }
}

/**
 * A usage report with its negative numbers as 0: what a tool prints is not trusted, and a negative cost or
 * token count would lower the cost breaker's daily sum and the evidence's cost per run (an attack
 * session found the schema took them). Pure.
 */
export function spentOnly(p: EventPayloads['agent.usage']): EventPayloads['agent.usage'] {
  const atLeast0 = (n: number) => Math.max(0, n);
  return { inputTokens: atLeast0(p.inputTokens), outputTokens: atLeast0(p.outputTokens), costUsd: p.costUsd === null ? null : atLeast0(p.costUsd), turns: p.turns === null ? null : atLeast0(p.turns) };
}

/** a + b held within ±Number.MAX_VALUE (two recordable numbers can add up to one no event can record). */
function finiteSum(a: number, b: number): number {
  return Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, a + b));
}

function nullableSum(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : finiteSum(a, b);
}
