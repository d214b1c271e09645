/**
 * The interactive review's loader and actions (src/orchestrator/reviewSession.ts) on a real repository
 * and event log: runs made by the built bin/agentctl with a `command` agent, then the session opened
 * in-process on the same AGENTCTL_HOME. Decisions follow the same rules as `review merge` / `discard`.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openContext, type Context } from '../../src/orchestrator/context.js';
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
