/**
 * `agentctl audit verify` streams the log: its peak memory does not grow with the number of events.
 * Measured on the built CLI in a child process (peak resident set size, reported by the child itself at
 * exit), on a log of 5,000 and one of 50,000 events of ~0.7 KB of payload each: loading the events as a
 * whole adds ~100 MB for the larger one. Both logs stay under the size from which SQLite's integrity check
 * runs on a worker thread (integrityCheck.ts: a constant ~25 MB more), so like is compared with like.
 * The walk and the integrity check read with a 2 MB page cache (SCAN_CACHE_KIB): with better-sqlite3's
 * default 16 MB one, the larger log's ~35 MB filled it and the difference was 14 MB; with it, 4 MB.
 * Not a timing assertion.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventInput } from '../src/evidence/events.js';
import { PARALLEL_FROM_BYTES, SCAN_CACHE_KIB, withScanCache } from '../src/evidence/integrityCheck.js';
import { openEventStore } from '../src/evidence/store.js';
import { agentctlPeak, cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

/** A home whose log holds `n` events (filled through the store, 1,000 per append). */
function logOf(n: number): string {
  const home = tempDir();
  const store = openEventStore(join(home, 'agentctl.db'));
  for (let i = 0; i < n; i += 1000) {
    const batch: EventInput[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      batch.push({ type: 'tool.result', runId: `run-${Math.floor(j / 10)}`, project: 'p', agent: 'claude', taskType: 'docs', payload: { id: `call-${j}`, isError: false, output: Array.from({ length: 10 }, (_, k) => `line ${k} of result ${j}: the quick brown fox jumps over the lazy dog`).join('\n') } });
    }
    store.append(batch);
  }
  store.close();
  return home;
}

/** Run `audit verify --json` on `home`; its exit code, report, and the child's peak RSS in MB. */
function verifyPeak(home: string): { code: number | null; report: { ok: boolean; events: number }; peakMB: number } {
  const r = agentctlPeak(tempDir(), home, ['audit', 'verify', '--json']);
  return { code: r.code, report: JSON.parse(r.stdout) as { ok: boolean; events: number }, peakMB: r.peakMB };
}

describe('audit verify memory', () => {
  it('peak memory on 50,000 events is within 10 MB of that on 5,000', () => {
    const smallHome = logOf(5000);
    const largeHome = logOf(50_000);
    expect(statSync(join(largeHome, 'agentctl.db')).size).toBeLessThan(PARALLEL_FROM_BYTES);
    const small = verifyPeak(smallHome);
    const large = verifyPeak(largeHome);
    expect(small).toMatchObject({ code: 0, report: { ok: true, events: 5000 } });
    expect(large).toMatchObject({ code: 0, report: { ok: true, events: 50_000 } });
    console.log(`audit verify peak RSS: ${small.peakMB.toFixed(0)} MB on 5,000 events, ${large.peakMB.toFixed(0)} MB on 50,000`);
    expect(large.peakMB - small.peakMB).toBeLessThan(10);
  }, 300_000);

  it("a whole-log read leaves the connection's own page cache size as it was, even when it throws", () => {
    const db = new Database(':memory:');
    db.pragma('cache_size = -12345');
    expect(withScanCache(db, () => db.pragma('cache_size', { simple: true }))).toBe(-SCAN_CACHE_KIB);
    expect(() => withScanCache(db, () => { throw new Error('boom'); })).toThrow('boom');
    expect(db.pragma('cache_size', { simple: true })).toBe(-12345);
    db.close();
  });
});
