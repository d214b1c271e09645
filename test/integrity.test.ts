/**
 * Tamper evidence: six ways of altering the log, each detected by `agentctl audit verify` (exit 7)
 * with the first bad sequence named.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openEventStore } from '../src/evidence/store.js';
import { agentctl, cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

function seeded(n = 10) {
  const home = tempDir();
  const file = join(home, 'agentctl.db');
  const store = openEventStore(file);
  for (let i = 1; i <= n; i++) store.append({ type: 'agent.message', runId: 'r', project: 'p', payload: { text: `message number ${i}` } });
  store.close();
  return { home, file };
}

/** Run `fn` on the raw database with the append-only triggers removed, then put them back unchanged. */
function withoutTriggers(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file);
  const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").all() as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
  fn(db);
  for (const t of triggers) db.exec(t.sql);
  db.close();
}

async function verify(home: string) {
  const r = await agentctl(tempDir(), home, ['audit', 'verify', '--json']);
  return { code: r.code, report: JSON.parse(r.stdout) };
}

describe('audit verify', () => {
  it('passes on an untouched log', async () => {
    const { home } = seeded();
    const { code, report } = await verify(home);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, events: 10, chainOk: true, schemaOk: true, checkpointOk: true, checkpoint: { seq: 10 } });
  });

  it('1/6 flipped byte in a stored payload', async () => {
    const { home, file } = seeded();
    // Checkpoint WAL into the main file so the payload bytes are there to flip.
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('message number 4'));
    expect(at).toBeGreaterThan(0);
    bytes[at + 8] = 'N'.charCodeAt(0);
    writeFileSync(file, bytes);
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report.firstBadSeq).toBe(4);
  });

  it('2/6 a deleted middle row', async () => {
    const { home, file } = seeded();
    withoutTriggers(file, (db) => db.prepare('DELETE FROM events WHERE seq = 5').run());
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report.firstBadSeq).toBe(5);
  });

  it('3/6 two rows swapped', async () => {
    const { home, file } = seeded();
    withoutTriggers(file, (db) => {
      const a = db.prepare('SELECT payload FROM events WHERE seq = 3').get() as { payload: string };
      const b = db.prepare('SELECT payload FROM events WHERE seq = 7').get() as { payload: string };
      db.prepare('UPDATE events SET payload = ? WHERE seq = 3').run(b.payload);
      db.prepare('UPDATE events SET payload = ? WHERE seq = 7').run(a.payload);
    });
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report.firstBadSeq).toBe(3);
  });

  it('4/6 a truncated tail', async () => {
    const { home, file } = seeded();
    withoutTriggers(file, (db) => db.prepare('DELETE FROM events WHERE seq > 7').run());
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ chainOk: true, checkpointOk: false, firstBadSeq: 8 });
  });

  it('5/6 an older copy of the database restored', async () => {
    const { home, file } = seeded(5);
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        copyFileSync(file + suffix, `${file}${suffix}.old`);
      } catch {
        /* no such file */
      }
    }
    const store = openEventStore(file);
    store.append({ type: 'agent.message', payload: { text: 'later' } });
    store.close();
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    copyFileSync(`${file}.old`, file);
    try {
      copyFileSync(`${file}-wal.old`, `${file}-wal`);
    } catch {
      /* none */
    }
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report.checkpointOk).toBe(false);
    expect(report.firstBadSeq).toBe(6);
  });

  it('6/6 a dropped trigger is tampering; normal commands refuse to record', async () => {
    const { home, file } = seeded();
    const db = new Database(file);
    db.exec('DROP TRIGGER events_no_update');
    db.close();
    const { code, report } = await verify(home);
    expect(code).toBe(7);
    expect(report).toMatchObject({ schemaOk: false, missingTriggers: ['events_no_update'] });
    expect(() => openEventStore(file)).toThrow(/tampered/);
  });
});
