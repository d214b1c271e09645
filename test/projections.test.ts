/**
 * Persisted projections (real SQLite files): folding incrementally, with the store closed and reopened
 * between chunks and pages smaller than a chunk, gives what a fold of the whole log from zero gives;
 * list reads touch only the rows they return; a row edited in the database is detected and rebuilt.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlsFold, factsFold, rebuildAll } from '../src/evidence/projectionCatalog.js';
import type { RunView } from '../src/evidence/projections/runs.js';
import { paging } from '../src/evidence/projectionSync.js';
import { syncSnapshot } from '../src/evidence/snapshotSync.js';
import { getRun, listRuns } from '../src/evidence/runsStore.js';
import { openEventStore, type EventStore } from '../src/evidence/store.js';
import { cleanup, tempDir } from './helpers.js';
import { eventOf, fromZero, history, incrementalAgrees, persisted, rules, step } from './support/projectionHistory.js';

afterEach(cleanup);
const defaultPage = paging.events;
beforeEach(() => void (paging.events = defaultPage));
afterEach(() => void (paging.events = defaultPage));

describe('persisted projections', () => {
  it('incremental (store reopened between chunks, pages smaller than chunks) == a fold from zero, for every projection (property)', () => {
    fc.assert(
      fc.property(...history, (steps, cuts, page) => {
        const file = join(tempDir(), 'agentctl.db');
        incrementalAgrees(() => openEventStore(file), steps, cuts, page);
      }),
      { numRuns: 40 },
    );
  });

  it('a view folded across pages (reloaded from JSON between) agrees with one folded in one go', () => {
    const store = openEventStore(join(tempDir(), 'agentctl.db'));
    try {
      const s = { run: 1, project: 'p' as const, agent: 'claude' as const, taskType: 'docs' as const, n: 1 };
      store.append(eventOf({ ...s, kind: 'run.planned' }));
      expect(listRuns(store, 'p').runs).toHaveLength(1);
      store.append(eventOf({ ...s, kind: 'sandbox.created' }));
      expect(listRuns(store, 'p').runs[0]!.worktree).toBe('/w/1');
      expect(rebuildAll(store, 'p', rules)).toMatchObject({ agreed: true, runs: { differences: { count: 0 } } });
    } finally {
      store.close();
    }
  });

  it('two processes advancing the same projections at once fold each event exactly once', async () => {
    const file = join(tempDir(), 'agentctl.db');
    const seed = openEventStore(file);
    const steps = fc.sample(step, { numRuns: 400, seed: 7 });
    seed.append(steps.map(eventOf));
    seed.close();
    paging.events = 13;
    // Two connections interleave page by page (the write transaction re-reads the head each time).
    const a = openEventStore(file);
    const b = openEventStore(file);
    try {
      for (let i = 0; i < 40; i++) {
        listRuns(i % 2 ? a : b, 'p', { limit: 1 });
        (i % 2 ? b : a).append(eventOf(steps[i]!));
      }
      expect(persisted(a, 'p')).toEqual(fromZero(a.query(), 'p'));
      expect(persisted(b, 'p')).toEqual(fromZero(b.query(), 'p'));
    } finally {
      a.close();
      b.close();
    }
  });

  it('`runs --limit 20` on a log of many runs reads only the rows it returns', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      const runs = 3000;
      for (let i = 0; i < runs; i += 500) {
        store.append(Array.from({ length: 500 }, (_, k) => eventOf({ run: i + k, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.planned', n: 1 })).map((e) => ({ ...e, runId: `r${String(e.runId!.split('-').at(-1)).padStart(5, '0')}` })));
      }
      listRuns(store, 'p', { limit: 1 }); // bring the projection up to date first
      const db = store.db;
      expect((db.prepare('SELECT count(*) AS n FROM projection_rows').get() as { n: number }).n).toBe(runs);
      // A store that counts what the read takes from it: rows from the projection, events from the log.
      let rows = 0;
      let events = 0;
      const tables = store.projections();
      const counting: EventStore = {
        ...store,
        query: (q) => {
          const out = store.query(q);
          events += out.length;
          return out;
        },
        projections: () => ({
          ...tables,
          reader: (name) => {
            const r = tables.reader(name);
            return {
              ...r,
              list: (q) => {
                const out = r.list(q);
                rows += out.length;
                return out;
              },
              get: (k) => {
                rows++;
                return r.get(k);
              },
            };
          },
        }),
      };
      const page = listRuns(counting, 'p', { limit: 20 });
      expect(rows).toBe(21); // the page and one more (to know whether there is a next page)
      expect(events).toBe(0);
      expect(page.runs.map((r) => r.runId)).toEqual(Array.from({ length: 20 }, (_, k) => `r${String(runs - 1 - k).padStart(5, '0')}`));
      expect(page.next).toBeDefined();
      // The plan SQLite chooses walks the (name, ord) index backwards and stops after the page: no sort, no scan.
      const plan = (db.prepare("EXPLAIN QUERY PLAN SELECT key, kind, grp, ord, value, mac FROM projection_rows WHERE name = ? ORDER BY ord DESC LIMIT 21").all('runs:p') as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan).toMatch(/USING INDEX projection_rows_by_order/);
      expect(plan).not.toMatch(/TEMP B-TREE|SCAN projection_rows/);
      const next = listRuns(store, 'p', { limit: 20, before: page.next! });
      expect(next.runs[0]!.runId).toBe(`r${String(runs - 21).padStart(5, '0')}`);
    } finally {
      store.close();
    }
  });

  it('a row edited in the database fails authentication and the projection is rebuilt from the log', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      store.append([eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.planned', n: 1 }), eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.discarded', n: 1 })]);
      expect(getRun(store, 'p', 'p-run-1')!.state).toBe('discarded');
      const forged: RunView = { ...getRun(store, 'p', 'p-run-1')!, state: 'awaiting_review', sandboxLive: true };
      store.db.prepare("UPDATE projection_rows SET value = ?, kind = 'awaiting_review', grp = 'review' WHERE name = 'runs:p' AND key = 'p-run-1'").run(JSON.stringify(forged));
      expect(listRuns(store, 'p', { group: 'review' }).runs).toEqual([]);
      expect(getRun(store, 'p', 'p-run-1')!.state).toBe('discarded');
      // A head moved back without the key would fold events twice (two tool calls counted four times): refused.
      store.append([1, 2].map(() => eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'tool.called', n: 1 })));
      expect(getRun(store, 'p', 'p-run-1')!.toolCalls).toBe(2);
      store.db.prepare("UPDATE projection_heads SET last_seq = 2 WHERE name = 'runs:p'").run();
      store.append(eventOf({ run: 1, project: 'p', agent: 'claude', taskType: 'docs', kind: 'tool.called', n: 1 }));
      expect(getRun(store, 'p', 'p-run-1')!.toolCalls).toBe(3);
    } finally {
      store.close();
    }
  });

  it('a snapshot from other logic or rules is rebuilt, one from the same is advanced', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    try {
      store.append({ type: 'system.halted', payload: { by: 'me', host: null, reason: 'r' } });
      expect(syncSnapshot(store, controlsFold).halted).toBeDefined();
      // A snapshot saved under another version says "not halted": it must be ignored.
      store.saveProjection({ name: 'controls', lastSeq: store.headSeq(), rulesHash: 'controls/0', state: JSON.stringify({ tripped: {}, lastReset: {}, halted: undefined }) });
      expect(syncSnapshot(store, controlsFold).halted).toBeDefined();
      expect(syncSnapshot(store, factsFold('p'))).toEqual({ agents: [], handovers: {}, pending: {} });
    } finally {
      store.close();
    }
  });
});
