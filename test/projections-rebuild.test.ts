/**
 * `projections rebuild` reads the log once for every projection (real SQLite files): across pages of
 * that one read, with events appended while it reads, and with an incremental row forged in the
 * database, it rebuilds what a fold from zero gives and reports whether the incremental one agreed. Its
 * scratch rows stay in the connection's private tables, out of the log file.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { rebuildAll, rebuildPaging } from '../src/evidence/projectionCatalog.js';
import { openEventStore, type EventStore } from '../src/evidence/store.js';
import { cleanup, tempDir } from './helpers.js';
import { PROJECTS, eventOf, fromZero, history, persisted, rules, type Step } from './support/projectionHistory.js';

const defaultPage = rebuildPaging.events;

/** Two connections to one new log file (this process and, in effect, another), closed when `fn` ends. */
function twoConnections(fn: (store: EventStore, other: EventStore) => void): void {
  const file = join(tempDir(), 'agentctl.db');
  const store = openEventStore(file);
  const other = openEventStore(file);
  try {
    fn(store, other);
  } finally {
    other.close();
    store.close();
  }
}
/** An event of run `run` of project p. */
const s = (run: number, kind: Step['kind']) => eventOf({ run, project: 'p', agent: 'claude', taskType: 'docs', kind, n: 1 });
afterEach(() => {
  rebuildPaging.events = defaultPage;
  cleanup();
});

describe('rebuilding every projection in one read of the log', () => {
  it('across pages of the read, agrees with the incremental projections and with a fold from zero (property)', () => {
    fc.assert(
      fc.property(history[0], fc.integer({ min: 1, max: 9 }), (steps, page) => {
        const store = openEventStore(join(tempDir(), 'agentctl.db'));
        try {
          store.append(steps.map(eventOf));
          for (const project of PROJECTS) persisted(store, project);
          rebuildPaging.events = page;
          for (const project of PROJECTS) {
            const summary = rebuildAll(store, project, rules);
            expect(summary.agreed).toBe(true);
            expect(summary.runs.lastSeq).toBe(steps.length);
            // The trust state's own last sequence: the project's last event, not the log's.
            expect(summary.trust.lastSeq).toBe(Math.max(0, ...store.query({ project }).map((e) => e.seq)));
          }
          const all = store.query();
          for (const project of PROJECTS) expect(persisted(store, project)).toEqual(fromZero(all, project));
        } finally {
          store.close();
        }
      }),
      { numRuns: 30 },
    );
  });

  it('events appended while it reads are folded into every projection before they are compared', () => {
    twoConnections((store, other) => {
      store.append([s(1, 'run.planned'), s(1, 'sandbox.created'), s(2, 'run.planned'), s(1, 'run.merged'), s(3, 'run.planned')]);
      persisted(store, 'p');
      // Another process appends right after the rebuild reads its first page, and its last (incomplete) one.
      let reads = 0;
      let appends = 0;
      const racing: EventStore = Object.create(store) as EventStore;
      racing.query = (q) => {
        const page = store.query(q);
        if (q?.limit === rebuildPaging.events && (reads++ === 0 || page.length < q.limit)) other.append([s(5 + appends++, 'run.planned'), s(2, 'run.discarded')]);
        return page;
      };
      rebuildPaging.events = 2;
      const summary = rebuildAll(racing, 'p', rules);
      expect(appends).toBe(2);
      expect(summary.agreed).toBe(true);
      expect(summary.runs).toMatchObject({ rows: 5, lastSeq: 9 });
      expect(summary.trust.lastSeq).toBe(9);
      expect(persisted(store, 'p')).toEqual(fromZero(store.query(), 'p'));
    });
  });

  it('an incremental row forged in the database is reported and replaced by the rebuilt one', () => {
    const store = openEventStore(join(tempDir(), 'agentctl.db'));
    try {
      store.append([s(1, 'run.planned'), s(2, 'run.planned'), s(1, 'run.discarded')]);
      persisted(store, 'p');
      store.db.prepare("UPDATE projection_rows SET ord = 99 WHERE name = 'runs:p' AND key = 'p-run-1'").run();
      rebuildPaging.events = 2;
      const summary = rebuildAll(store, 'p', rules);
      expect(summary.agreed).toBe(false);
      expect(summary.runs.differences.count).toBeGreaterThan(0);
      expect(persisted(store, 'p')).toEqual(fromZero(store.query(), 'p'));
      expect(rebuildAll(store, 'p', rules).agreed).toBe(true);
    } finally {
      store.close();
    }
  });

  it('folds into private scratch tables: another connection never sees them, and scratch rows an earlier version left in the log are removed', () => {
    twoConnections((store, other) => {
      store.append([s(1, 'run.planned'), s(2, 'run.planned'), s(1, 'run.discarded'), s(3, 'run.planned'), s(4, 'run.planned')]);
      persisted(store, 'p');
      // What a rebuild of the previous version, stopped half-way, left among the log's projections.
      store.projections().write('runs:p~rebuild', (w) => {
        w.put({ key: 'p-run-1', value: '{}', kind: null, group: null, order: 1 });
        w.setHead({ lastSeq: 1, version: 'old' });
      });
      const inLog = () => (other.db.prepare("SELECT count(*) AS n FROM projection_rows WHERE name LIKE '%~rebuild'").get() as { n: number }).n;
      const inScratch = () => (store.db.prepare("SELECT count(*) AS n FROM temp.scratch_rows WHERE name = 'runs:p~rebuild'").get() as { n: number }).n;
      const seen: { log: number; scratch: number }[] = [];
      const watched: EventStore = Object.create(store) as EventStore;
      watched.query = (q) => {
        if (q?.limit === rebuildPaging.events) seen.push({ log: inLog(), scratch: inScratch() });
        return store.query(q);
      };
      rebuildPaging.events = 2;
      expect(rebuildAll(watched, 'p', rules).agreed).toBe(true);
      // Read after the first pages were folded: the rows were in the scratch tables, none in the log.
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...seen.map((x) => x.scratch))).toBeGreaterThan(0);
      expect(seen.slice(1).every((x) => x.log === 0)).toBe(true);
      expect(store.projections().names()).not.toContain('runs:p~rebuild');
      expect(inLog()).toBe(0);
      expect(inScratch()).toBe(0);
      expect(persisted(store, 'p')).toEqual(fromZero(store.query(), 'p'));
    });
  });

  it('compares on one snapshot: another process appending and syncing while the rows are compared is no difference', () => {
    twoConnections((store, other) => {
      // More runs than one page of the comparison (1,000 rows), so it reads the incremental rows twice.
      store.append(Array.from({ length: 1500 }, (_, i) => s(i + 1, 'run.planned')));
      persisted(store, 'p');
      const tables = store.projections();
      const reader = tables.reader.bind(tables);
      let raced = false;
      // Between the comparison's first and second page of incremental rows: another process appends and syncs.
      tables.reader = (name) => {
        const r = reader(name);
        if (name !== 'runs:p') return r;
        return {
          ...r,
          list: (q) => {
            if (q?.byKey && q.afterKey !== undefined && !raced) {
              raced = true;
              other.append([s(999, 'run.discarded')]);
              persisted(other, 'p');
            }
            return r.list(q);
          },
        };
      };
      const summary = rebuildAll(store, 'p', rules);
      tables.reader = reader;
      expect(raced).toBe(true);
      expect(summary.runs.differences).toEqual({ count: 0, keys: [] });
      expect(summary.agreed).toBe(true);
      expect(persisted(store, 'p')).toEqual(fromZero(store.query(), 'p'));
    });
  });
});
