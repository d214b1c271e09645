/**
 * The run guard: while an agent works, every {@link GUARD_INTERVAL_MS} it
 * - stops the run when the kill switch is on or one of the agent's circuit breakers trips;
 * - reads the agent's protocol files and records them as events (status, reasoning, escalations,
 *   follow-up requests); very low self-reported confidence or an escalation request stops the run.
 */
import { parseRecordableObject } from '../evidence/canonical.js';
import { textOf } from '../core/text.js';
import { payloadOf } from '../evidence/eventSchemas.js';
import type { EventPayloads } from '../evidence/eventSchemas.js';
import type { EventBody, StoredEvent } from '../evidence/events.js';
import { breakerKey, evaluateBreakers, trippedFor, type Trip } from '../evidence/projections/breakers.js';
import { Quota } from '../core/quota.js';
import { breakerInputs } from './breakerWindow.js';
import { controlsOf, type Context } from './context.js';
import { notify } from './notify.js';
import { MAX_PROTOCOL_LINE_CHARS, MAX_PROTOCOL_LINES, newJsonLines, readProtocolFile } from './protocol.js';

/** Milliseconds between guard checks. */
const GUARD_INTERVAL_MS = 400;

/** Milliseconds an escalation request that is not JSON must stay unchanged before it is taken as written. */
const ESCALATION_SETTLE_MS = 2000;

/** Why the guard stopped a run. */
export interface GuardStop {
  kind: 'halted' | 'breaker' | 'escalated' | 'low-confidence';
  reason: string;
}

/** What the guard learned during the run. */
export interface GuardReport {
  stop: GuardStop | undefined;
  /** Lowest confidence the agent reported (1 when none). */
  minConfidence: number;
  escalated: boolean;
}

/** The run the guard watches. */
export interface GuardedRun {
  runId: string;
  task: string;
  agent: string;
  taskType: string;
  worktree: string;
  /** Profiles of the parent run (follow-up tasks get no more than these). */
  profiles: string[];
}

const haltedBy = (h: { by: string; reason: string }): string => `halted by ${h.by}: ${h.reason}`;

/** Record new breaker trips for an agent (idempotent per reset) and notify. */
export async function recordTrips(ctx: Context, agent: string): Promise<Trip[]> {
  const project = ctx.project.config.project;
  const controls = controlsOf(ctx);
  const now = Date.now();
  const { events, norms } = breakerInputs(ctx.store, project, ctx.project.config.breakers, controls, [agent], now);
  const trips = evaluateBreakers(events, controls, ctx.project.config.breakers, agent, project, now, norms.get(agent)!); // breakerInputs gives a norm for each agent asked
  for (const t of trips) {
    const reset = controls.lastReset[breakerKey(t.breaker, agent, project)] ?? 0;
    const [event] = ctx.store.append({ type: 'breaker.tripped', key: `breaker:${t.breaker}:${agent}:${project}:${reset}`, agent, project, payload: { breaker: t.breaker, agent, project, reason: t.reason } });
    if (event) await notify(ctx, 'breaker-tripped', event, `circuit breaker "${t.breaker}" tripped for ${agent}: ${t.reason}`);
  }
  return trips;
}

/**
 * Start guarding a run.
 * @param abort aborted (with the stop reason recorded in the report) when the run must stop
 * @param emit appends events for this run
 * @returns `finish()`: stops the timer, reads the protocol files one last time and returns the report
 */
export function startGuard(ctx: Context, run: GuardedRun, abort: AbortController, emit: (events: EventBody[]) => StoredEvent[]): { finish(): Promise<GuardReport> } {
  const cfg = ctx.project.config;
  const report: GuardReport = { stop: undefined, minConfidence: 1, escalated: false };
  const offsets = { status: 0, trace: 0, followups: 0 };
  const quotas = { status: new Quota(MAX_PROTOCOL_LINES.status), trace: new Quota(MAX_PROTOCOL_LINES.trace), followups: new Quota(MAX_PROTOCOL_LINES.followups) };
  let escalationSeen = false;
  let lastEscalation: { text: string | undefined; since: number } = { text: undefined, since: 0 };
  let busy = false;

  const stop = (s: GuardStop) => {
    if (report.stop) return;
    report.stop = s;
    abort.abort();
  };

  /** Record what the protocol files hold since the last read (`final`: the agent has exited). */
  const ingest = async (final: boolean): Promise<void> => {
    const status = newJsonLines(readProtocolFile(run.worktree, 'status.jsonl'), offsets.status, final);
    offsets.status = status.total;
    const trace = newJsonLines(readProtocolFile(run.worktree, 'trace.jsonl'), offsets.trace, final);
    offsets.trace = trace.total;
    const follow = newJsonLines(readProtocolFile(run.worktree, 'followups.jsonl'), offsets.followups, final);
    offsets.followups = follow.total;
    const events: EventBody[] = [];
    for (const s of quotas.status.takeSome(status.items)) events.push({ type: 'agent.status', payload: s });
    const confidenceOf = (t: Record<string, unknown>) => (typeof t.confidence === 'number' && t.confidence >= 0 && t.confidence <= 1 ? t.confidence : undefined);
    for (const t of trace.items) report.minConfidence = Math.min(report.minConfidence, confidenceOf(t) ?? 1);
    for (const t of quotas.trace.takeSome(trace.items)) {
      events.push({ type: 'agent.reasoning', payload: { observed: t.observed ?? null, considered: t.considered ?? null, decided: t.decided ?? null, confidence: confidenceOf(t) ?? null, ...(t.invalid ? { invalid: t.invalid } : {}) } });
    }
    for (const f of quotas.followups.takeSome(follow.items)) events.push({ type: 'task.requested', payload: { ...f, parentRun: run.runId, parentTask: run.task, parentProfiles: run.profiles } });
    const escalation = !escalationSeen ? readProtocolFile(run.worktree, 'escalate.json') : undefined;
    let escalationEvent: EventPayloads['agent.escalated'] | undefined;
    const written = escalation !== undefined && escalation.trim() !== '';
    // Read as JSON up to the length of a protocol line, like the other files (the run's row keeps it);
    // a longer request is taken as text, clipped.
    const parsed = written && escalation.length <= MAX_PROTOCOL_LINE_CHARS ? parseRecordableObject(escalation) : undefined;
    // Text that is not JSON (yet) may be a request the agent is still writing: taken as it is once it has
    // not changed for ESCALATION_SETTLE_MS, or once the agent has exited.
    if (escalation !== lastEscalation.text) lastEscalation = { text: escalation, since: Date.now() };
    const settled = written && (parsed !== undefined || final || Date.now() - lastEscalation.since >= ESCALATION_SETTLE_MS);
    if (written && settled) {
      escalationSeen = true;
      const body = parsed ?? { reason: escalation.slice(0, 2000) };
      escalationEvent = { source: 'agent', reason: body.reason ?? null, question: body.question ?? null };
    } else if (!written && report.minConfidence < cfg.protocol.stopBelow && !report.escalated) {
      escalationEvent = { source: 'confidence', reason: `self-reported confidence ${report.minConfidence} is below ${cfg.protocol.stopBelow}`, question: 'The agent is unsure how to proceed; guidance needed.' };
    }
    if (escalationEvent) {
      report.escalated = true;
      events.push({ type: 'agent.escalated', payload: escalationEvent });
    }
    const stored = events.length ? emit(events) : [];
    const esc = stored.find((e) => e.type === 'agent.escalated');
    if (esc) {
      const p = payloadOf(esc, 'agent.escalated');
      await notify(ctx, 'escalation', esc, `${run.agent} asks for guidance on ${run.task}: ${textOf(p.reason)}`);
      stop({ kind: p.source === 'agent' ? 'escalated' : 'low-confidence', reason: textOf(p.reason) });
    }
  };

  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const controls = controlsOf(ctx);
      if (controls.halted) stop({ kind: 'halted', reason: haltedBy(controls.halted) });
      const trips = await recordTrips(ctx, run.agent);
      const tripped = trippedFor(controlsOf(ctx), run.agent, cfg.project)[0] ?? trips[0];
      if (tripped) stop({ kind: 'breaker', reason: `circuit breaker "${tripped.breaker}" tripped: ${tripped.reason}` });
      await ingest(false);
    } finally {
      busy = false;
    }
  };

  const timer = setInterval(() => void tick().catch(() => undefined), GUARD_INTERVAL_MS);
  return {
    async finish() {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 20));
      // The agent may have been killed from outside (agentctl halt kills process trees directly).
      const controls = controlsOf(ctx);
      if (controls.halted && !report.stop) report.stop = { kind: 'halted', reason: haltedBy(controls.halted) };
      await ingest(true);
      const over = (Object.keys(quotas) as (keyof typeof quotas)[]).filter((f) => quotas[f].over > 0);
      if (over.length) {
        const text = `agentctl recorded the first ${over.map((f) => `${quotas[f].max} lines of .agentctl/${f}.jsonl`).join(', ')}; counted, not recorded: ${over.map((f) => `${quotas[f].over} of ${f}.jsonl`).join(', ')}`;
        emit([{ type: 'agent.message', payload: { text, severity: 'warning' } }]);
      }
      const handover = readProtocolFile(run.worktree, 'handover.md');
      if (handover && handover.trim()) emit([{ type: 'agent.handover', payload: { text: handover.slice(0, 20_000) } }]);
      return report;
    },
  };
}
