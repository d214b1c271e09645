/** One-line human descriptions of events, for progress output and `agentctl log`. Pure. */
import type { StoredEvent } from '../evidence/events.js';
import { terminalSafe } from './terminal.js';

const short = (s: unknown, n = 90): string => {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

const note = (v: unknown): string => (typeof v === 'string' && v !== '' ? `: ${v}` : '');

/**
 * Describe an event in one line, or undefined for events not worth a progress line. Payloads hold
 * agent, repository and human text, so the whole line goes through {@link terminalSafe} (one-line
 * mode: a newline in a note shows as `\n` and cannot forge a log line).
 * @returns plain text without colour codes, safe to print
 */
export function describeEvent(e: StoredEvent): string | undefined {
  const text = describe(e);
  return text === undefined ? undefined : terminalSafe(text);
}

function describe(e: StoredEvent): string | undefined {
  const p = e.payload;
  switch (e.type) {
    case 'run.planned':
      return `planned ${e.task} for ${e.agent} (requested ${String(p.requested)}, effective ${String(p.effective)})`;
    case 'sandbox.created':
      return `sandbox ${String(p.branch)} at ${String(p.path)}`;
    case 'worktree.bootstrapped': {
      const ports = p.ports as { first: number; count: number } | null;
      const list = (v: unknown) => (Array.isArray(v) && v.length ? v.join(', ') : '');
      const parts = [ports ? `ports ${ports.first}-${ports.first + ports.count - 1}` : '', list(p.linked) && `shared ${list(p.linked)}`, list(p.copied) && `copied ${list(p.copied)}`, list(p.missing) && `not in the checkout: ${list(p.missing)}`];
      return `worktree bootstrapped: ${parts.filter(Boolean).join('; ')}`;
    }
    case 'setup.started':
    case 'teardown.started':
      return `${e.type.split('.')[0]}: ${short(p.command)}`;
    case 'setup.finished':
    case 'teardown.finished':
      return `${e.type.split('.')[0]} ${p.exitCode === 0 ? 'ok' : 'failed'}: ${short(p.command, 70)}${p.exitCode === 0 ? '' : p.timedOut ? ' (timed out)' : ` (${p.error ? short(p.error, 60) : `exit ${String(p.exitCode ?? p.signal)}`})`}`;
    case 'policy.rendered':
      return `policy rendered for ${String(p.tool)} (${((p.policy as { profiles?: string[] })?.profiles ?? []).join(', ')})`;
    case 'agent.launched':
      return `launched ${String(p.bin)}`;
    case 'agent.message':
      return `${p.kind === 'reasoning' ? 'thinks' : 'says'}: ${short(p.text)}`;
    case 'tool.called': {
      const input = (p.input ?? {}) as Record<string, unknown>;
      const arg = p.path ?? input.command ?? input.file_path ?? input.notebook_path ?? input.path ?? '';
      return `${String(p.tool)} ${short(arg, 70)}`;
    }
    case 'tool.result':
      return p.isError ? `tool error: ${short(p.output, 80)}` : 'tool ok';
    case 'agent.usage':
      return `usage: ${String(p.inputTokens)} in / ${String(p.outputTokens)} out tokens${typeof p.costUsd === 'number' ? `, $${p.costUsd.toFixed(4)}` : ''}`;
    case 'permission.denied':
      return `denied: ${String(p.tool)} ${short(JSON.stringify(p.input ?? {}), 70)}`;
    case 'file.changed':
      return `changed ${String(p.path)}`;
    case 'agent.exited':
      return p.timedOut ? 'agent timed out' : p.interrupted ? 'agent stopped (interrupted)' : `agent exited ${p.exitCode ?? String(p.signal)}`;
    case 'sandbox.committed':
      return `${(p.files as unknown[]).length} file(s) changed (+${String(p.insertions)} -${String(p.deletions)})`;
    case 'scope.violation':
      return `scope violation: ${String(p.path)} (${String(p.reason)})`;
    case 'gate.passed':
      return `gate passed: ${String(p.command)}`;
    case 'gate.failed':
      return `gate failed: ${String(p.command)} (exit ${String(p.exitCode)})`;
    case 'run.decided':
      return `decision: ${String(p.outcome)}${(p.reasons as string[]).length ? ` (${(p.reasons as string[]).join('; ')})` : ''}`;
    case 'run.merged':
      return `merged into ${String(p.baseBranch)} as ${String(p.mergeSha).slice(0, 10)} by ${String(p.by)}`;
    case 'run.discarded':
      return `discarded by ${String(p.by)}${p.reason ? `: ${String(p.reason)}` : ''}`;
    case 'run.failed':
      return `failed: ${short(p.error, 120)}`;
    case 'run.interrupted':
      return 'interrupted';
    case 'review.approved':
      return `approved by ${String(p.by)}${p.note ? `: ${String(p.note)}` : ''}`;
    case 'review.rejected':
      return `rejected by ${String(p.by)}${p.reason ? `: ${String(p.reason)}` : ''}`;
    case 'review.changes_requested':
      return `changes requested by ${String(p.by)} (attempt ${String(p.attempt)})${note(short(p.note, 80))}`;
    case 'run.attempt_started':
      return `attempt ${String(p.attempt)} started: ${typeof p.resume === 'string' ? `resuming the agent's session ${p.resume}` : 'a fresh session with the task, the notes and the diff'}`;
    case 'sandbox.removed':
      return 'sandbox removed';
    case 'trust.promoted':
      return `promoted ${String(p.agent)} for "${String(p.taskType)}" from ${String(p.from)} to ${String(p.to)} by ${String(p.by)}${p.forced ? ' (forced)' : ''}${note(p.note)}`;
    case 'trust.demoted':
      return `demoted ${String(p.agent)} for "${String(p.taskType)}" from ${String(p.from)} to ${String(p.to)} by ${String(p.by)}${note(p.reason)}`;
    case 'system.halted':
      return `halted by ${String(p.by)}${note(p.reason)}`;
    case 'system.resumed':
      return `resumed by ${String(p.by)}${note(p.note)}`;
    case 'queue.enqueued':
      return `queued for the team's workers by ${String(p.by)}${p.host ? ` on ${String(p.host)}` : ''} (job ${String(p.jobId)})`;
    case 'breaker.tripped':
      return `breaker ${String(p.breaker)} tripped for ${String(p.agent)}${note(p.reason)}`;
    case 'breaker.reset':
      return `breaker ${String(p.breaker)} reset for ${String(p.agent)} by ${String(p.by)}${note(p.note)}`;
    case 'audit.agreed':
    case 'audit.disagreed':
      return `audit ${e.type === 'audit.agreed' ? 'agrees' : 'disagrees'} (${String(p.by)})${note(p.note)}`;
    case 'merge.failed':
      return `merge failed: ${short(p.reason, 120)}`;
    case 'escalation.attempted':
      return `escalation attempted: ${String(p.tool ?? '')} ${String(p.path ?? '')}`;
    case 'agent.escalated':
      return `escalated (${String(p.source)})${note(p.reason)}`;
    case 'task.requested':
      return `follow-up requested: ${String(p.id)} "${String(p.title ?? '')}"`;
    case 'agent.handover':
      return `handover note: ${short(p.text, 80)}`;
    default:
      return undefined;
  }
}
