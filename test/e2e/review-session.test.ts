/**
 * The interactive review's loader and actions (src/orchestrator/reviewSession.ts) on a real repository
 * and event log: runs made by the built bin/agentctl with a `command` agent, then the session opened
 * in-process on the same AGENTCTL_HOME. Decisions follow the same rules as `review merge` / `discard`.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listRuns } from '../../src/evidence/runsStore.js';
import { findRun, openContext, type Context } from '../../src/orchestrator/context.js';
import { discardRun, mergeRun } from '../../src/orchestrator/review.js';
import { reviewSession } from '../../src/orchestrator/reviewSession.js';
import { groupOf } from '../../src/ui/review/model.js';
import { SCRIPTED_AGENT, agentctl, cleanup, git, makeRepo, taskFile } from '../helpers.js';

afterAll(cleanup);

describe('review session', () => {
  let repo: string;
  let home: string;
  let ctx: Context;

  beforeAll(async () => {
    ({ repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': SCRIPTED_AGENT,
      'tasks/ok.md': taskFile({ agent: 'command', type: 'docs', gate: 'true' }, 'ok-one'),
      'tasks/bad.md': taskFile({ agent: 'command', type: 'docs', gate: 'false' }, 'ok-two'),
    }));
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    for (const t of ['ok', 'bad']) await agentctl(repo, home, ['run', t]);
    ctx = await openContext(repo, { ...process.env, AGENTCTL_HOME: home });
  }, 120_000);
  afterAll(() => ctx?.close());

  it('loads the queue, reads a diff as review show does, and decides by the same rules as the commands', async () => {
    const sendBack = vi.fn(async () => undefined);
    const session = reviewSession(ctx, sendBack);
    const runs = session.runs();
    expect(runs.map((r) => [r.task, groupOf(r)])).toEqual([
      ['ok', 'ready'],
      ['bad', 'gate-failed'],
    ]);
    const [ok, bad] = runs as [(typeof runs)[0], (typeof runs)[0]];
    const shown = JSON.parse((await agentctl(repo, home, ['review', 'show', ok.runId, '--json'])).stdout);
    expect(await session.actions.diff(ok.runId)).toBe(shown.diff);
    expect(shown.diff).toContain('+ok-one');

    // A dirty checkout refuses the merge (as `review merge` does); the run stays in the queue.
    writeFileSync(join(repo, 'README.md'), 'changed\n');
    await expect(session.actions.merge(ok.runId)).rejects.toThrow(/uncommitted changes/);
    expect((await session.actions.refresh()).map((r) => r.task)).toContain('ok');
    git(repo, 'checkout', 'README.md');
    expect(await session.actions.merge(ok.runId)).toMatch(/^Merged ok \(run \w+\) into main as [0-9a-f]{10}\.$/);
    expect(git(repo, 'log', '-1', '--format=%s')).toMatch(/^agentctl: merge ok/);

    await expect(session.actions.ask(bad.runId, 'nobody')).rejects.toThrow(/reviewer must be one of/);
    expect(await session.actions.requestChanges!(bad.runId, 'rename it')).toMatch(/^Sent bad \(run \w+\) back to command/);
    expect(sendBack).toHaveBeenCalledWith(ctx, expect.objectContaining({ runId: bad.runId }), { note: 'rename it', by: 'dev@example.com' });
    expect(await session.actions.discard(bad.runId)).toMatch(/^Discarded bad \(run \w+\)\. Its work is kept at refs\/agentctl\/archive\//);
    expect(await session.actions.refresh()).toEqual([]);
    expect(session.busy()).toBe(false);

    const states = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs.map((r: { task: string; state: string }) => [r.task, r.state]).sort();
    expect(states).toEqual([
      ['bad', 'discarded'],
      ['ok', 'merged'],
    ]);
    // Without a way to request changes, the action is absent (the screen says it is not available).
    expect(reviewSession(ctx).actions.requestChanges).toBeUndefined();
  });
});

describe('a decision prepared on a view the run has moved past', () => {
  it('merge and discard of a run sent back meanwhile (attempt 2 by request-changes) are refused under the lock, changing nothing', async () => {
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': SCRIPTED_AGENT,
      'tasks/ok.md': taskFile({ agent: 'command', type: 'docs', gate: 'true' }, 'ok-one'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    await agentctl(repo, home, ['run', 'ok']);
    const ctx = await openContext(repo, { ...process.env, AGENTCTL_HOME: home });
    try {
      const [stale] = listRuns(ctx.store, ctx.project.config.project).runs;
      expect(stale?.state).toBe('awaiting_review');
      const sent = await agentctl(repo, home, ['review', 'request-changes', stale!.runId, '--note', 'once more']);
      expect(sent.code, sent.stderr).toBe(0);
      const baseBefore = git(repo, 'rev-parse', 'HEAD');
      const view = findRun(ctx, stale!.runId); // the stale view's id, to read the log's view after
      expect(view.attempts).toHaveLength(2);
      await expect(mergeRun(ctx, stale!, { by: 'dev', auto: false })).rejects.toThrow(/changed while this was prepared/);
      await expect(discardRun(ctx, stale!, 'dev', 'stale')).rejects.toThrow(/changed while this was prepared/);
      expect(git(repo, 'rev-parse', 'HEAD')).toBe(baseBefore);
      const now = findRun(ctx, stale!.runId);
      expect([now.state, now.attempts.length, now.sandboxLive]).toEqual(['awaiting_review', 2, true]);
    } finally {
      ctx.close();
    }
  }, 120_000);
});
