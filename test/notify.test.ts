/**
 * notify() never throws: a notification comes after the work (a merge, an escalation that must still stop
 * its agent), so what it cannot check or send is recorded as `notification.failed`, never raised.
 * A real repository, a real approvals file and the real event log.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { settingsApprovalsFile } from '../src/orchestrator/settingsApproval.js';
import { openContext } from '../src/orchestrator/context.js';
import { notify } from '../src/orchestrator/notify.js';
import { approveRepo, cleanup, makeRepo, tempDir } from './helpers.js';

afterEach(cleanup);

it('an approvals file it cannot read: the notifier is not run, the failure is recorded and returned, nothing is thrown', async () => {
  const marker = join(tempDir(), 'notified');
  const notifier = join(tempDir(), 'notify.sh');
  writeFileSync(notifier, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  const { repo, home } = makeRepo({ '.agentrc.yaml': `notify:\n  command: ${notifier}\n` });
  approveRepo(repo, home);
  const ctx = await openContext(repo, { ...process.env, AGENTCTL_HOME: home });
  try {
    const [event] = ctx.store.append({ type: 'system.halted', payload: { by: 'dev', host: 'laptop', reason: 'test' } });
    // Approved, it runs.
    expect(await notify(ctx, 'halted', event!, 'halted')).toBe(0);
    expect(existsSync(marker)).toBe(true);
    // The approvals file turns unreadable (malformed): not approved, recorded, no throw.
    mkdirSync(join(home, 'approvals'), { recursive: true });
    writeFileSync(settingsApprovalsFile(ctx.paths), '{ not json');
    const { rmSync } = await import('node:fs');
    rmSync(marker);
    expect(await notify(ctx, 'halted', event!, 'halted')).toBe(1);
    expect(existsSync(marker)).toBe(false);
    const failed = ctx.store.query({ types: ['notification.failed'] });
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.payload.error)).toMatch(/^not run: notify\.command cannot be checked against this machine's approvals: .*malformed/);
  } finally {
    ctx.close();
  }
});
