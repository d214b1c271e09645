/**
 * A team on one PostgreSQL log, end to end with the built CLI: two clones of one remote in differently
 * named folders, each with its own AGENTCTL_HOME ("two machines") sharing the team key, record into one
 * store. `run` (command agent) + `review merge` on one, `promote --json` on both shows the same evidence
 * (the project identity comes from the root commit, not the folder), and `audit verify` passes.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentctl, cleanup, git, tempDir } from '../helpers.js';
import { pgStoreFixture, startPg, type PgServer } from '../pg.js';
import { docsTask, homeSharingTeamKey, sharedRemote } from '../support/team.js';


/** A bare remote with one commit (agent, config, task d1), cloned into `alice/` and `bob/`. */
function twoClones(): { a: string; b: string } {
  const { clones } = sharedRemote({ d1: docsTask('d1', { gate: 'test -f docs/d1.md' }) }, ['alice', 'bob']);
  return { a: clones[0]!, b: clones[1]! };
}

describe('a team on one PostgreSQL store (built CLI)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(cleanup);

  it('run + review merge on one machine; promote --json on both shows the same evidence; audit verify passes', async () => {
    const { a, b } = twoClones();
    const f = await pgStoreFixture(server, join(tempDir(), 'home-a'));
    const homeB = homeSharingTeamKey(f.home, 'home-b');
    const envB = { AGENTCTL_STORE: f.url };

    const run = await agentctl(a, f.home, ['run', 'd1', '--json'], f.env);
    expect(run.code, run.stderr).toBe(0);
    const { runId } = JSON.parse(run.stdout).run;
    const merge = await agentctl(a, f.home, ['review', 'merge', runId, '--json'], f.env);
    expect(merge.code, merge.stderr).toBe(0);

    const evidence = async (cwd: string, home: string, env: Record<string, string>) => {
      const r = await agentctl(cwd, home, ['promote', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const onA = await evidence(a, f.home, f.env);
    const onB = await evidence(b, homeB, envB);
    expect(onA.profiles.find((p: { agent: string }) => p.agent === 'command')).toMatchObject({ taskType: 'docs', evidence: { merged: 1 } });
    expect(onB.profiles).toEqual(onA.profiles);
    // One identity from the root commit, whatever the folders are called.

    // The human is recorded with the machine they acted from.
    const events = JSON.parse((await agentctl(b, homeB, ['log', '--run', runId, '--json'], envB)).stdout).events as { type: string; project: string; payload: Record<string, unknown> }[];
    expect(events.find((e) => e.type === 'review.approved')?.payload).toMatchObject({ by: 'alice@example.com', host: hostname() });
    const root = git(a, 'rev-list', '--max-parents=0', 'HEAD');
    expect(new Set(events.map((e) => e.project))).toEqual(new Set([`repo-${root.slice(0, 16)}`]));

    for (const [cwd, home, env] of [[a, f.home, f.env], [b, homeB, envB]] as const) {
      const v = await agentctl(cwd, home, ['audit', 'verify', '--json'], env);
      expect(v.code, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, authenticated: true });
    }
    const doctor = JSON.parse((await agentctl(b, homeB, ['doctor', '--json'], envB)).stdout);
    expect(doctor.checks.eventLog).toMatchObject({ status: 'ok', detail: expect.stringMatching(/\(shared\): \d+ events, chain authenticated/) });
    // Nothing went to a local SQLite log.
    expect(spawnSync('test', ['-e', join(f.home, 'agentctl.db')]).status).not.toBe(0);
  });
});
