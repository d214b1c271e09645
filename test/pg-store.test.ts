/**
 * The PostgreSQL store against a real server (test/pg.ts): the database keeps the log append-only by
 * itself, appends from several processes make one chain, and tampering done around agentctl (as the
 * superuser, bypassing the triggers) is caught by `audit verify` and at open.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../src/core/paths.js';
import { verifyChain } from '../src/evidence/events.js';
import { openStore, verifyStore } from '../src/evidence/openStore.js';
import type { PgEventStore } from '../src/evidence/pg/pgStore.js';
import { BIN, ROOT, agentctl, agentctlPeak, cleanup, tempDir } from './helpers.js';
import { pgStoreFixture, startPg, type PgServer, type PgStoreFixture } from './pg.js';

const ev = (n: number, key?: string) => ({ type: 'agent.message' as const, runId: 'r1', project: 'p', payload: { text: `m${n}`, severity: String(n) }, ...(key ? { key } : {}) });

describe('PostgreSQL event store (real server)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPg();
  });
  afterAll(async () => server?.stop());
  afterEach(cleanup);

  const fixture = () => pgStoreFixture(server, join(tempDir(), 'home'));
  const open = (f: PgStoreFixture, env: Record<string, string> = {}) => openStore({ kind: 'postgres', url: f.url }, homePaths(f.home), { ...f.env, ...env }) as PgEventStore;
  const verify = async (f: PgStoreFixture) => agentctl(ROOT, f.home, ['audit', 'verify', '--json'], f.env);

  it('the writer role cannot UPDATE, DELETE or TRUNCATE events; nor can the owner past the triggers', async () => {
    const f = await fixture();
    const store = open(f);
    store.append([ev(1), ev(2)]);
    for (const sql of ["UPDATE agentctl.events SET payload = '{}' WHERE seq = 1", 'DELETE FROM agentctl.events WHERE seq = 2', 'TRUNCATE agentctl.events']) {
      expect(() => store.session.query(sql)).toThrow(/permission denied/);
    }
    // The head row is the writer's to move, but only with the team key's code: a forged one is refused at the next append.
    expect(() => store.session.query('ALTER TABLE agentctl.events DISABLE TRIGGER events_no_update')).toThrow(/must be owner/);
    store.close();
    // The superuser (owner) is stopped by the triggers unless it goes around them.
    expect(() => server.psql("UPDATE agentctl.events SET payload = '{}' WHERE seq = 1", f.database)).toThrow(/append-only: UPDATE refused/);
    expect(() => server.psql('DELETE FROM agentctl.events', f.database)).toThrow(/append-only: DELETE refused/);
    expect(() => server.psql('TRUNCATE agentctl.events', f.database)).toThrow(/append-only: TRUNCATE refused/);
    expect(server.psql('SELECT count(*) FROM agentctl.events', f.database).trim()).toBe('2');
  });

  it('refuses to write through a role that could alter the log, a store never initialised, or disabled triggers', async () => {
    const f = await fixture();
    const asSuper = { kind: 'postgres' as const, url: server.url(f.database) };
    expect(() => openStore(asSuper, homePaths(f.home), f.env)).toThrow(/could alter the log: it is a superuser/);
    const empty = server.createDatabase();
    expect(() => openStore({ kind: 'postgres', url: server.url(empty, 'agentctl_writer') }, homePaths(f.home), f.env)).toThrow(/is not initialised/);
    server.psql(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stranger') THEN CREATE ROLE stranger LOGIN; END IF; END $$`);
    expect(() => openStore({ kind: 'postgres', url: server.url(f.database, 'stranger') }, homePaths(f.home), f.env)).toThrow(/cannot read the PostgreSQL store .*permission denied/);
    server.psql('ALTER TABLE agentctl.events DISABLE TRIGGER events_no_delete', f.database);
    expect(() => open(f)).toThrow(/triggers are missing or disabled \(events_no_delete \(disabled\)\)/);
  });

  it('`agentctl store init` (as the administrator) creates the store and a writer role, idempotently', async () => {
    const database = server.createDatabase();
    const home = join(tempDir(), 'home');
    const init = (args: string[] = []) => agentctl(ROOT, home, ['store', 'init', '--admin-url', server.url(database), '--writer', 'team_writer', '--json', ...args]);
    const first = await init();
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ writer: 'team_writer', roleCreated: true, applied: [expect.any(String), expect.any(String)] });
    expect(JSON.parse((await init()).stdout)).toMatchObject({ roleCreated: false, applied: [] });
    expect(server.psql("SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants WHERE grantee = 'team_writer' AND table_name = 'events'", database).trim()).toBe('INSERT,SELECT');
    const bad = await agentctl(ROOT, home, ['store', 'init', '--admin-url', server.url(database), '--writer', 'x; DROP TABLE y']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/writer role name/);
  });

  it('refuses clearly without the team key, naming how to provision it', async () => {
    const f = await fixture();
    const r = await agentctl(ROOT, f.home, ['resume'], { ...f.env, AGENTCTL_LOG_KEY_FILE: join(f.home, 'nope.key') });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/needs the team's log key, and .*nope\.key does not exist/);
    expect(r.stderr).toMatch(/head -c 32 \/dev\/urandom/);
  });

  it('is idempotent on the key and keeps projections authenticated', async () => {
    const f = await fixture();
    const store = open(f);
    const [first] = store.append(ev(1, 'k1'));
    const again = store.append([ev(1, 'k1'), ev(2, 'k2'), ev(2, 'k2')]);
    expect(again.map((e) => e.seq)).toEqual([first!.seq, 2, 2]);
    expect(store.query()).toHaveLength(2);
    store.saveProjection({ name: 'trust:p', lastSeq: 2, rulesHash: 'h', state: '{"a":1}' });
    expect(store.loadProjection('trust:p')).toMatchObject({ lastSeq: 2, state: '{"a":1}' });
    // An older snapshot never replaces a newer authentic one.
    store.saveProjection({ name: 'trust:p', lastSeq: 1, rulesHash: 'h', state: '{"a":0}' });
    expect(store.loadProjection('trust:p')?.lastSeq).toBe(2);
    // Edited in the database (the writer may update projections): ignored, rebuilt from events.
    store.session.query(`UPDATE agentctl.projections SET state = '{"a":999}'`);
    expect(store.loadProjection('trust:p')).toBeUndefined();
    store.close();
  });

  it('appends from 4 processes at once make one valid chain', async () => {
    const f = await fixture();
    open(f).close();
    const worker = join(tempDir(), 'append.mjs');
    copyFileSync(join(ROOT, 'test', 'fixtures', 'pg-append.mjs'), worker);
    const runs = await Promise.all(
      [0, 1, 2, 3].map(
        (i) =>
          new Promise<number>((resolve) => {
            const child = spawn(process.execPath, [worker, String(i), '25'], { env: { ...process.env, ...f.env, AGENTCTL_DIST: join(ROOT, 'dist') }, stdio: ['ignore', 'inherit', 'inherit'] });
            child.on('close', (code) => resolve(code ?? -1));
          }),
      ),
    );
    expect(runs).toEqual([0, 0, 0, 0]);
    const store = open(f);
    const events = store.query();
    expect(events).toHaveLength(100);
    expect(verifyChain(events, store.auth!)).toMatchObject({ ok: true, checked: 100 });
    expect(new Set(events.map((e) => e.runId)).size).toBe(4);
    store.close();
    expect(JSON.parse((await verify(f)).stdout)).toMatchObject({ ok: true, events: 100, authenticated: true });
  });

  it('audit verify reads the log a page at a time: peak memory on 100,000 events is within 80 MB of that on 20,000, and a row edited in a later page is caught', async () => {
    // ~0.7 KB of payload per event (as verify-memory.test.ts). Loading the log whole, the peak was 277 MB on
    // 40,000 events and 709 MB on 160,000; a page at a time, 168 and 196 MB (the main thread's and the pg
    // worker's heaps let garbage grow before they collect it: hence the margin, not the 10 MB of SQLite's).
    const filled = async (n: number) => {
      const f = await fixture();
      const store = open(f);
      for (let i = 0; i < n; i += 1000) {
        store.append(Array.from({ length: 1000 }, (_, j) => ({ type: 'tool.result' as const, runId: `run-${Math.floor((i + j) / 10)}`, project: 'p', agent: 'claude', taskType: 'docs', payload: { id: `call-${i + j}`, isError: false, output: Array.from({ length: 10 }, (_, k) => `line ${k} of result ${i + j}: the quick brown fox jumps over the lazy dog`).join('\n') } })));
      }
      store.close();
      return f;
    };
    const small = await filled(20_000);
    const large = await filled(100_000);
    const peak = (f: PgStoreFixture) => agentctlPeak(ROOT, f.home, ['audit', 'verify', '--json'], f.env);
    const a = peak(small);
    const b = peak(large);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ ok: true, events: 100_000 });
    console.log(`PostgreSQL audit verify peak RSS: ${a.peakMB.toFixed(0)} MB on 20,000 events, ${b.peakMB.toFixed(0)} MB on 100,000`);
    expect(b.peakMB - a.peakMB).toBeLessThan(80);
    // Past the first pages (1,000 events each).
    server.psql(`SET session_replication_role = replica; UPDATE agentctl.events SET payload = '{"id":"x","isError":false,"output":"forged"}' WHERE seq = 33333`, large.database);
    const r = await verify(large);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, firstBadSeq: 33333, chainOk: false, events: 100_000 });
  }, 300_000);

  it('a row edited by the superuser around the triggers is caught by audit verify (exit 7)', async () => {
    const f = await fixture();
    const store = open(f);
    store.append([ev(1), ev(2), ev(3)]);
    store.close();
    expect((await verify(f)).code).toBe(0);
    server.psql(`SET session_replication_role = replica; UPDATE agentctl.events SET payload = '{"n":2,"text":"forged"}' WHERE seq = 2`, f.database);
    const r = await verify(f);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, firstBadSeq: 2, chainOk: false });
  });

  it('a forged row (hashes recomputed without the key) and a rolled-back tail are caught', async () => {
    const f = await fixture();
    const store = open(f);
    store.append([ev(1), ev(2), ev(3)]);
    store.close();
    // An inserted event, chained with plain sha256 (what an attacker without the key can compute), head row moved along.
    const { eventHash } = await import('../src/evidence/events.js');
    const [top] = JSON.parse(server.psql(`SELECT json_agg(e) FROM (SELECT * FROM agentctl.events ORDER BY seq DESC LIMIT 1) e`, f.database)) as { hash: string }[];
    const forged = { seq: 4, key: 'x', ts: new Date().toISOString(), type: 'run.merged', version: 1, project: 'p', payload: {}, prevHash: top!.hash };
    const hash = eventHash(forged);
    server.psql(`INSERT INTO agentctl.events (seq, key, ts, type, version, project, payload, prev_hash, hash) VALUES (4, 'x', '${forged.ts}', 'run.merged', 1, 'p', '{}', '${top!.hash}', '${hash}'); UPDATE agentctl.log_head SET seq = 4, hash = '${hash}'`, f.database);
    let r = await verify(f);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout).firstBadSeq).toBe(4);
    expect(() => open(f)).toThrow(/head row is not authenticated/);

    // Roll back to an older authentic state (events and head row together): this machine saw #3.
    const g = await fixture();
    const s2 = open(g);
    s2.append([ev(1), ev(2)]);
    const oldHead = server.psql('SELECT seq, hash, mac FROM agentctl.log_head', g.database).trim().split('|');
    s2.append(ev(3));
    s2.close();
    server.psql(`SET session_replication_role = replica; DELETE FROM agentctl.events WHERE seq = 3; UPDATE agentctl.log_head SET seq = ${oldHead[0]}, hash = '${oldHead[1]}', mac = '${oldHead[2]}'`, g.database);
    r = await verify(g);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout).problems.join()).toMatch(/this machine saw it at #3: it was truncated or rolled back/);
    expect(() => open(g)).toThrow(/this machine saw it at #3/);
    // A machine that never saw #3 (a fresh home with the same key) cannot tell: the residual risk the README names.
    const other = join(tempDir(), 'other');
    mkdirSync(join(other, 'keys'), { recursive: true, mode: 0o700 });
    copyFileSync(join(g.home, 'keys', 'team.key'), join(other, 'keys', 'team.key'));
    expect(verifyStore({ kind: 'postgres', url: g.url }, homePaths(other), {})?.ok).toBe(true);
  });
});
