/**
 * `agentctl store migrate` with the built CLI and a real PostgreSQL server: a machine's local SQLite log
 * (a run recorded and merged) is copied into a team store; the copy verifies, shows the same evidence
 * and re-running copies nothing. Refusals change nothing in the shared log: a tampered local log (exit
 * 7), a shared log that already records the same project from elsewhere (exit 5).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentctl, cleanup, tempDir } from '../helpers.js';
import { pgStoreFixture, startPg, type PgServer, type PgStoreFixture } from '../pg.js';
import { docsProject, docsTask } from '../support/team.js';

/** A repository whose `command` agent writes docs/<first prompt line>.md; tasks d1, d2 (docs). */
function repo(): string {
  return docsProject(join(tempDir(), 'proj'), Object.fromEntries(['d1', 'd2'].map((id) => [id, docsTask(id, { gate: `test -f docs/${id}.md` })])));
}

const LOCAL = { AGENTCTL_STORE: 'sqlite' };

describe('agentctl store migrate (built CLI, real PostgreSQL)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(cleanup);

  const count = (f: PgStoreFixture): number => Number(server.psql('SELECT count(*) FROM agentctl.events', f.database).trim());
  const head = (f: PgStoreFixture): string => server.psql('SELECT seq, hash, mac FROM agentctl.log_head', f.database).trim();
  /** A second store sharing `f`'s team key (so one home can write both). */
  const storeWithKeyOf = async (f: PgStoreFixture): Promise<PgStoreFixture> => {
    const g = await pgStoreFixture(server, join(tempDir(), 'other-home'));
    copyFileSync(join(f.home, 'keys', 'team.key'), join(g.home, 'keys', 'team.key'));
    return g;
  };

  /** A local log with one merged run and one awaiting review, in `home` (which also holds the team key of `f`). */
  async function localHistory(dir: string, home: string): Promise<void> {
    const r1 = await agentctl(dir, home, ['run', 'd1', '--json'], LOCAL);
    expect(r1.code, r1.stderr).toBe(0);
    const merged = await agentctl(dir, home, ['review', 'merge', JSON.parse(r1.stdout).run.runId], LOCAL);
    expect(merged.code, merged.stderr).toBe(0);
    const r2 = await agentctl(dir, home, ['run', 'd2', '--json'], LOCAL);
    expect(r2.code, r2.stderr).toBe(0);
  }

  it('copies every event with its identity; audit verify passes on the copy; promote --json is the same; re-running copies 0', async () => {
    const dir = repo();
    const f = await pgStoreFixture(server, join(tempDir(), 'home'));
    await localHistory(dir, f.home);
    const localEvents = JSON.parse((await agentctl(dir, f.home, ['log', '--json', '--limit', '100000'], LOCAL)).stdout).events as Record<string, unknown>[];

    const m = await agentctl(dir, f.home, ['store', 'migrate', '--to', f.url, '--json', '--batch-size', '7'], LOCAL);
    expect(m.code, m.stderr).toBe(0);
    const result = JSON.parse(m.stdout);
    expect(result).toMatchObject({ copied: result.events, alreadyPresent: 0 });
    expect(result.events).toBeGreaterThan(10);
    expect(m.stderr).toMatch(/migrate: 7\/\d+ events/);
    expect(count(f)).toBe(result.events);

    const verify = await agentctl(dir, f.home, ['audit', 'verify', '--json'], f.env);
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, authenticated: true, events: result.events });

    // Identity kept: key, time, type, subject, payload (seq and hashes are the shared chain's).
    const sharedEvents = JSON.parse((await agentctl(dir, f.home, ['log', '--json', '--limit', '100000'], f.env)).stdout).events as Record<string, unknown>[];
    const id = (e: Record<string, unknown>) => ({ key: e.key, ts: e.ts, type: e.type, runId: e.runId, task: e.task, agent: e.agent, project: e.project, taskType: e.taskType, payload: e.payload });
    expect(sharedEvents.map(id)).toEqual(localEvents.map(id));

    const promote = async (env: Record<string, string>) => {
      const r = await agentctl(dir, f.home, ['promote', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const onPg = await promote(f.env);
    expect(onPg).toEqual(await promote(LOCAL));
    expect(onPg.profiles.find((p: { agent: string }) => p.agent === 'command')).toMatchObject({ taskType: 'docs', evidence: { merged: 1 } });
    // The run awaiting review is there to review from the shared store.
    const review = JSON.parse((await agentctl(dir, f.home, ['review', '--json'], f.env)).stdout);
    expect(review.runs.map((r: { task: string }) => r.task)).toEqual(['d2']);

    const before = count(f);
    const again = await agentctl(dir, f.home, ['store', 'migrate', '--to', f.url, '--json'], LOCAL);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ copied: 0, alreadyPresent: result.events });
    expect(count(f)).toBe(before);
  });

  it('refuses a tampered local log (exit 7); the shared log is unchanged', async () => {
    const dir = repo();
    const f = await pgStoreFixture(server, join(tempDir(), 'home'));
    await localHistory(dir, f.home);
    const file = join(f.home, 'agentctl.db');
    const db = new Database(file);
    const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").all() as { name: string; sql: string }[];
    for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
    db.prepare("UPDATE events SET payload = replace(payload, 'd1', 'dX') WHERE seq = 2").run();
    for (const t of triggers) db.exec(t.sql);
    db.close();
    const headBefore = head(f);
    const m = await agentctl(dir, f.home, ['store', 'migrate', '--to', f.url], LOCAL);
    expect(m.code, m.stderr).toBe(7);
    expect(m.stderr).toMatch(/fails verification \(first bad sequence: 2\).*nothing was copied/);
    expect(count(f)).toBe(0);
    expect(head(f)).toBe(headBefore);
  });

  it('refuses when the shared log already records the same project from another log (exit 5); nothing copied', async () => {
    const dir = repo();
    const f = await pgStoreFixture(server, join(tempDir(), 'home'));
    await localHistory(dir, f.home);
    // Another machine records the same project (same root commit) in a shared store first.
    const g = await storeWithKeyOf(f);
    const other = await agentctl(dir, g.home, ['run', 'd2', '--json'], g.env);
    expect(other.code, other.stderr).toBe(0);
    const before = count(g);
    const headBefore = head(g);
    expect(before).toBeGreaterThan(0);

    const m = await agentctl(dir, f.home, ['store', 'migrate', '--to', g.url, '--json'], LOCAL);
    expect(m.code, m.stderr).toBe(5);
    expect(m.stderr).toMatch(/already holds \d+ event\(s\) of project repo-[0-9a-f]+ that did not come from this log.*nothing was copied/);
    expect(count(g)).toBe(before);
    expect(head(g)).toBe(headBefore);

    // Another project's events in the shared log are no obstacle.
    const h = await storeWithKeyOf(f);
    const otherDir = repo();
    expect((await agentctl(otherDir, h.home, ['run', 'd1', '--json'], h.env)).code).toBe(0);
    const n = count(h);
    const ok = await agentctl(dir, f.home, ['store', 'migrate', '--to', h.url, '--json'], LOCAL);
    expect(ok.code, ok.stderr).toBe(0);
    expect(count(h)).toBe(n + JSON.parse(ok.stdout).copied);
    const verify = await agentctl(dir, f.home, ['audit', 'verify', '--json'], h.env);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('never copies the kill switch: a local halt and resume do not lift the halt a teammate set on the team store', async () => {
    const dir = repo();
    const f = await pgStoreFixture(server, join(tempDir(), 'home'));
    await localHistory(dir, f.home);
    expect((await agentctl(dir, f.home, ['halt', '--reason', 'local'], LOCAL)).code).toBe(0);
    expect((await agentctl(dir, f.home, ['resume'], LOCAL)).code).toBe(0);
    // A teammate halts the team store.
    expect((await agentctl(dir, f.home, ['halt', '--reason', 'incident'], f.env)).code).toBe(0);
    const m = await agentctl(dir, f.home, ['store', 'migrate', '--to', f.url, '--json'], LOCAL);
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ killSwitchSkipped: 2 });
    // The progress counts only what is copied: it ends at its total.
    const [, done, total] = /migrate: (\d+)\/(\d+) events\n$/.exec(m.stderr) ?? [];
    expect(done).toBeDefined();
    expect(done).toBe(total);
    const breakers = await agentctl(dir, f.home, ['breakers', '--json'], f.env);
    expect(JSON.parse(breakers.stdout).halted).toMatchObject({ reason: 'incident' });
    const run = await agentctl(dir, f.home, ['run', 'd2', '--json'], f.env);
    expect(run.code).not.toBe(0);
    expect((await agentctl(dir, f.home, ['audit', 'verify', '--json'], f.env)).code).toBe(0);
  });

  it('refuses a local log that ends halted (the kill switch would halt the team); after resume it copies', async () => {
    const dir = repo();
    const f = await pgStoreFixture(server, join(tempDir(), 'home'));
    await localHistory(dir, f.home);
    expect((await agentctl(dir, f.home, ['halt', '--reason', 'lunch'], LOCAL)).code).toBe(0);
    const m = await agentctl(dir, f.home, ['store', 'migrate', '--to', f.url], LOCAL);
    expect(m.code, m.stderr).toBe(5);
    expect(m.stderr).toMatch(/ends halted .*nothing was copied/);
    expect(count(f)).toBe(0);
    expect((await agentctl(dir, f.home, ['resume'], LOCAL)).code).toBe(0);
    const ok = await agentctl(dir, f.home, ['store', 'migrate', '--to', f.url, '--json'], LOCAL);
    expect(ok.code, ok.stderr).toBe(0);
    expect(count(f)).toBe(JSON.parse(ok.stdout).copied);
    const run = await agentctl(dir, f.home, ['run', 'd2', '--json'], f.env);
    expect(run.code, run.stderr).toBe(0);
  });
});
