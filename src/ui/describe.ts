/** One-line human descriptions of events, for progress output and `agentctl log`. Pure. */
import type { StoredEvent } from '../evidence/events.js';

const short = (s: unknown, n = 90): string => {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

/** Describe an event in one line, or undefined for events not worth a progress line. */
export function describeEvent(e: StoredEvent): string | undefined {
  const p = e.payload;
  switch (e.type) {
    case 'run.planned':
      return `planned ${e.task} for ${e.agent} (requested ${String(p.requested)}, effective ${String(p.effective)})`;
    case 'sandbox.created':
      return `sandbox ${String(p.branch)} at ${String(p.path)}`;
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
    case 'sandbox.removed':
      return 'sandbox removed';
    case 'trust.promoted':
      return `promoted ${String(p.agent)} for "${String(p.taskType)}" from ${String(p.from)} to ${String(p.to)} by ${String(p.by)}`;
    default:
      return undefined;
  }
}
