/**
 * Notifications: auto merges, runs awaiting review, escalations, breaker trips and halts are sent to a
 * configured command (the notification as JSON on stdin) and/or webhook (a JSON POST). A failure never
 * stops the work; it is recorded as `notification.failed` and printed.
 */
import type { StoredEvent } from '../evidence/events.js';
import { childEnv, runProcess } from '../exec/runner.js';
import { terminalSafe } from '../ui/terminal.js';
import type { Context } from './context.js';
import { unapprovedSettings } from './settingsApproval.js';

/** What a notification is about. */
export type NotificationKind = 'auto-merged' | 'awaiting-review' | 'escalation' | 'breaker-tripped' | 'halted';

/** Milliseconds a notifier command or webhook may take. */
const NOTIFY_TIMEOUT_MS = 10_000;

/**
 * Send one notification to every configured target.
 * @returns the number of targets that failed
 */
export async function notify(ctx: Context, kind: NotificationKind, event: StoredEvent, summary: string): Promise<number> {
  const { command, webhook } = ctx.project.config.notify;
  if (!command && !webhook) return 0;
  // Repository settings that run or send from this machine: only as this machine's user approved them.
  // Never throws (a run is merged, an escalation must still stop its agent): what cannot be checked is
  // not approved.
  let unapproved: string[];
  let why = 'is not approved on this machine (agentctl approve)';
  try {
    unapproved = unapprovedSettings(ctx).map((s) => s.setting);
  } catch (error) {
    unapproved = ['notify.command', 'notify.webhook'];
    why = `cannot be checked against this machine's approvals: ${(error as Error).message}`;
  }
  const body = JSON.stringify({ kind, summary, project: ctx.project.config.project, event });
  let failures = 0;
  const failed = (target: string, error: string) => {
    failures++;
    // The error may quote the notifier's stderr, which may quote the agent: made visible, never raw.
    process.stderr.write(`agentctl: notification to ${terminalSafe(target)} failed: ${terminalSafe(error)}\n`);
    ctx.store.append({ type: 'notification.failed', project: ctx.project.config.project, runId: event.runId, payload: { target, kind, error, eventSeq: event.seq } });
  };
  const refused = (setting: string) => unapproved.includes(setting);
  if (command && refused('notify.command')) failed(command, `not run: notify.command ${why}`);
  else if (command) {
    try {
      const r = await runProcess(command, [], { cwd: ctx.project.root, env: childEnv(ctx.env, { AGENTCTL_NOTIFICATION: kind }), input: body, timeoutMs: NOTIFY_TIMEOUT_MS, acceptExitCodes: 'any' });
      if (r.exitCode !== 0) failed(command, `exit ${r.exitCode ?? r.signal}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    } catch (error) {
      failed(command, (error as Error).message);
    }
  }
  if (webhook && refused('notify.webhook')) failed(webhook, `not sent: notify.webhook ${why}`);
  else if (webhook) {
    try {
      const res = await fetch(webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS) });
      if (!res.ok) failed(webhook, `HTTP ${res.status}`);
    } catch (error) {
      failed(webhook, (error as Error).message);
    }
  }
  return failures;
}
