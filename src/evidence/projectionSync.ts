/**
 * Keeping persisted projections current: each is stored with the last sequence folded in and advanced
 * by folding only the events after it, a page at a time, each page in one exclusive transaction that
 * re-reads the head first (so several agentctl processes advancing at once fold each event exactly
 * once). The folds themselves are the pure per-event functions in projections/; this module only
 * pages events in and rows out.
 */
import { InternalError } from '../core/errors.js';
import { catchUp, type Progress } from '../core/progress.js';
import { canonicalJson } from './canonical.js';
import type { StoredEvent } from './events.js';
import { ProjectionDamagedError, type ProjectionReader, type ProjectionRow, type ProjectionTables, type ProjectionWriter } from './projectionTables.js';
import type { EventQuery, EventStore } from './store.js';

/** Events folded per transaction: bounds memory and how long appends wait for the lock. Tests lower it to cross pages. */
export const paging = { events: 5_000 };

/** Reads and buffered writes of a row projection while one page of events is folded. */
export interface RowAccess<V> {
  /** The row's value, or undefined. */
  get(key: string): V | undefined;
  /** Set a row's value; `order` is kept from the stored row unless given (required for a new row). */
  set(key: string, value: V, order?: number): void;
  delete(key: string): void;
}

/** A projection stored as rows. */
export interface RowFold<V> {
  /** Stored name (unique per log), e.g. `runs:<project>`. */
  name: string;
  /** Logic version: rows from another version are dropped and rebuilt. */
  version: string;
  /** The events it reads (sequence order is always kept). */
  filter: Pick<EventQuery, 'project' | 'types'>;
  /** Fold one event (pure apart from `rows`). */
  apply(rows: RowAccess<V>, e: StoredEvent): void;
  /** The index fields of a value. */
  index(value: V): { kind: string | null; group: string | null };
}

/** In-memory buffer of the rows one page touches, flushed once at the end of the page. */
class Buffer<V> implements RowAccess<V> {
  private readonly rows = new Map<string, { value: V; order: number } | null>();
  private readonly dirty = new Set<string>();
  constructor(private readonly w: ProjectionWriter) {}

  private load(key: string): { value: V; order: number } | null {
    if (!this.rows.has(key)) {
      const row = this.w.get(key);
      this.rows.set(key, row ? { value: JSON.parse(row.value) as V, order: row.order } : null);
    }
    return this.rows.get(key)!;
  }
  /** Load the rows of `keys` not loaded yet, in one read. */
  prefetch(keys: Iterable<string>): void {
    const missing = [...keys].filter((k) => !this.rows.has(k));
    if (!missing.length) return;
    for (const k of missing) this.rows.set(k, null);
    for (const row of this.w.getMany(missing)) this.rows.set(row.key, { value: JSON.parse(row.value) as V, order: row.order });
  }
  get(key: string): V | undefined {
    return this.load(key)?.value;
  }
  set(key: string, value: V, order?: number): void {
    const o = order ?? this.load(key)?.order;
    if (o === undefined) throw new Error(`projection row ${key} is new and needs an order`);
    this.rows.set(key, { value, order: o });
    this.dirty.add(key);
  }
  delete(key: string): void {
    this.rows.set(key, null);
    this.dirty.add(key);
  }
  flush(fold: RowFold<V>): void {
    for (const key of this.dirty) {
      const r = this.rows.get(key);
      if (!r) this.w.delete(key);
      else this.w.put({ key, value: JSON.stringify(r.value), order: r.order, ...fold.index(r.value) });
    }
    this.dirty.clear();
  }
}

/**
 * The next page of events after `afterSeq` that `filter` selects.
 * A project filter is applied here, not in the query: SQLite answers `project = ? AND seq > ?` through
 * the project index, i.e. by reading every event of the project, while a bare `seq > ?` reads only the
 * new ones (other projects' new events are skipped in memory). A type filter has an index on (type, seq).
 * @returns the events, whether the page was full (more may follow), and the last sequence it covered
 */
export function eventPage(store: EventStore, filter: Pick<EventQuery, 'project' | 'types'>, afterSeq: number, size = paging.events): { events: StoredEvent[]; full: boolean; endSeq: number } {
  const page = store.query({ ...(filter.types ? { types: filter.types } : {}), afterSeq, limit: size });
  const full = page.length === size;
  const endSeq = page.at(-1)?.seq ?? afterSeq;
  return { events: filter.project === undefined ? page : page.filter((e) => selects(filter, e)), full, endSeq };
}

/**
 * The row keys folding `events` reads or writes, found by a dry run of the fold against no rows (folds are
 * pure apart from their rows), so the page's rows load in one read rather than one per row (on PostgreSQL
 * each read is a round trip: 5,000 of them took 2.4 s). A key the dry run misses (it depends on a row's
 * value) is still read on its own when the real fold asks for it.
 */
function keysTouched<V>(fold: RowFold<V>, events: readonly StoredEvent[]): Set<string> {
  const keys = new Set<string>();
  const probe: RowAccess<V> = { get: (k) => void keys.add(k), set: (k) => void keys.add(k), delete: (k) => void keys.add(k) };
  for (const e of events) {
    try {
      fold.apply(probe, e);
    } catch {
      // A fold that needs a stored value to go on: the rest of its keys are read one by one.
    }
  }
  return keys;
}

/**
 * Fold one page of events into `w` (the caller holds the write transaction).
 * @returns whether the projection reached the head of the log, and the sequence it is at
 */
function foldPage<V>(store: EventStore, fold: RowFold<V>, w: ProjectionWriter): { atHead: boolean; lastSeq: number } {
  let head;
  try {
    head = w.head();
  } catch (error) {
    if (!(error instanceof ProjectionDamagedError)) throw error;
    head = undefined;
  }
  if (!head || head.version !== fold.version) {
    w.clear();
    head = { lastSeq: 0, version: fold.version };
  }
  const { events, full, endSeq } = eventPage(store, fold.filter, head.lastSeq);
  foldInto(fold, w, events);
  const lastSeq = full ? endSeq : Math.max(head.lastSeq, store.headSeq());
  w.setHead({ lastSeq, version: fold.version });
  return { atHead: !full, lastSeq };
}

/** Fold `events` (the fold's own, in sequence order) into `w`: the page's rows read in one go, written once. */
function foldInto<V>(fold: RowFold<V>, w: ProjectionWriter, events: readonly StoredEvent[]): void {
  const buffer = new Buffer<V>(w);
  buffer.prefetch(keysTouched(fold, events));
  for (const e of events) fold.apply(buffer, e);
  buffer.flush(fold);
}

/** Whether `filter` selects `e` (what {@link eventPage} reads for it). */
export function selects(filter: Pick<EventQuery, 'project' | 'types'>, e: StoredEvent): boolean {
  return (filter.project === undefined || e.project === filter.project) && (!filter.types?.length || filter.types.includes(e.type));
}

/**
 * Fold events of the log, read once for several projections, into the scratch projection of `fold` in
 * one transaction (the caller holds none): those of `page` that the fold selects, then its head at
 * `lastSeq`.
 * @param page every event after `afterSeq` up to `lastSeq` that the fold selects (others are skipped)
 * @param afterSeq the sequence the scratch projection must be at (the page follows it)
 * @throws InternalError when the scratch projection is not at `afterSeq` (another rebuild wrote it)
 */
export function foldScratchPage<V>(store: EventStore, fold: RowFold<V>, page: readonly StoredEvent[], afterSeq: number, lastSeq: number): void {
  const scratch = scratchOf(fold);
  store.projections().scratch().write(scratch.name, (w) => {
    const head = w.head();
    if ((head?.lastSeq ?? 0) !== afterSeq || (head && head.version !== fold.version)) throw new InternalError(`projection ${scratch.name} changed during its rebuild (another rebuild at once?)`);
    foldInto(scratch, w, page.filter((e) => selects(fold.filter, e)));
    w.setHead({ lastSeq, version: fold.version });
  });
}

/** The projection a rebuild of `fold` folds into, in the scratch tables ({@link ProjectionTables.scratch}). */
function scratchOf<V>(fold: RowFold<V>): RowFold<V> {
  return { ...fold, name: `${fold.name}~rebuild` };
}

/**
 * Empty the scratch projection of `fold` (before a rebuild folds into it from zero). Also drops one left
 * in the shared tables by a rebuild of an earlier version that stopped half-way (it kept them there).
 */
export function clearScratch(store: EventStore, fold: RowFold<unknown>): void {
  const name = scratchOf(fold).name;
  const tables = store.projections();
  tables.scratch().write(name, (w) => w.clear());
  if (tables.scratch() !== tables && tables.names().includes(name)) tables.write(name, (w) => w.clear());
}

/** `current` when the projection's stored head is at the log's head (no lock taken), else the sequence it would fold from (0: from zero). */
function currentSeq(store: EventStore, fold: RowFold<unknown>): number | 'current' {
  try {
    const head = store.projections().reader(fold.name).head();
    if (head === undefined || head.version !== fold.version) return 0;
    return head.lastSeq >= store.headSeq() ? 'current' : head.lastSeq;
  } catch (error) {
    if (error instanceof ProjectionDamagedError) return 0;
    throw error;
  }
}

/**
 * Bring a row projection up to the head of the log (building it from zero on first use, or when its
 * version changed or a row failed authentication).
 * @throws whatever the store throws (e.g. InternalError on a log opened for inspection only)
 */
function syncRows<V>(store: EventStore, fold: RowFold<V>): void {
  const at = currentSeq(store, fold as RowFold<unknown>);
  if (at === 'current') return;
  let from = at;
  const tables = store.projections();
  const progress = showCatchUp(store, from);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        for (;;) {
          const page = tables.write(fold.name, (w) => foldPage(store, fold, w));
          progress?.report?.(page.lastSeq - from, store.headSeq() - from);
          if (page.atHead) return;
        }
      } catch (error) {
        // A damaged row met while folding: drop the projection and fold it again from zero, once.
        if (!(error instanceof ProjectionDamagedError) || attempt > 0) throw error;
        tables.write(fold.name, (w) => w.clear());
        from = 0;
      }
    }
  } finally {
    progress?.end();
  }
}

/**
 * A progress display ({@link catchUp}) for bringing a projection up to the log's head, when that is more
 * than a page of events away.
 * @param from the sequence the projection is at (0: from zero)
 * @returns the display to report to and end, or undefined (close enough, or nothing set `catchUp.begin`)
 */
export function showCatchUp(store: EventStore, from: number): Progress | undefined {
  return store.headSeq() - from > paging.events ? catchUp.begin?.('bringing saved projections up to date') : undefined;
}

/**
 * Run `read` on the projection after `prepare` (which syncs it as far as the caller needs). A damaged
 * row met while reading drops the projection, folds it again from zero, then reads again.
 */
function readRepairing<V, T>(store: EventStore, fold: RowFold<V>, prepare: () => void, read: (r: ProjectionReader) => T): T {
  prepare();
  const reader = store.projections().reader(fold.name);
  try {
    return read(reader);
  } catch (error) {
    if (!(error instanceof ProjectionDamagedError)) throw error;
    store.projections().write(fold.name, (w) => w.clear());
    syncRows(store, fold);
    return read(reader);
  }
}

/**
 * Read a row projection, current: sync it, then run `read` on it. A damaged row met while reading
 * drops and rebuilds the projection, then reads again.
 */
export function readRows<V, T>(store: EventStore, fold: RowFold<V>, read: (r: ProjectionReader) => T): T {
  return readRepairing(store, fold, () => syncRows(store, fold), read);
}

/**
 * Read a row projection without the write lock while it is at most `maxLag` events behind the log:
 * `read` gets the rows as saved and the events the fold selects that came after its head (the caller
 * folds those into its answer; the stored rows are not touched). For readers that ask often while
 * events are appended (the run guard every 400 ms): syncing would take the write lock each time. The
 * projection is synced first (a write) when missing, of another version, or further behind.
 * @param maxLag events (of any type) the projection may be behind the log's head
 * @param read gets the reader and the pending events in sequence order
 * @throws whatever the store throws; a damaged row is repaired as {@link readRows} does
 */
export function readRowsBehind<V, T>(store: EventStore, fold: RowFold<V>, maxLag: number, read: (r: ProjectionReader, pending: StoredEvent[]) => T): T {
  const prepare = () => {
    let head;
    try {
      head = store.projections().reader(fold.name).head();
    } catch (error) {
      if (!(error instanceof ProjectionDamagedError)) throw error;
    }
    if (!head || head.version !== fold.version || store.headSeq() - head.lastSeq > maxLag) syncRows(store, fold);
  };
  return readRepairing(store, fold, prepare, (r) => {
    const head = r.head()!;
    const pending = store.query({ ...(fold.filter.types ? { types: fold.filter.types } : {}), afterSeq: head.lastSeq }).filter((e) => selects(fold.filter, e));
    return read(r, pending);
  });
}

/** Parse a row's value. */
export function valueOf<V>(row: ProjectionRow): V {
  return JSON.parse(row.value) as V;
}

/** What a rebuild found. */
export interface RebuildReport {
  name: string;
  rows: number;
  lastSeq: number;
  /** Keys whose incremental value differed from the rebuilt one (at most 20 listed), and how many. */
  differences: { count: number; keys: string[] };
}

/**
 * Finish the rebuild of a row projection from zero, once its scratch projection was folded from zero (to
 * any sequence, e.g. by one read of the log shared with other projections, {@link foldScratchPage}):
 * fold both it and the incremental one to the head, compare them row by row on one snapshot (paged: memory
 * stays flat) and keep the rebuilt rows. Linear in the log's length, constant in memory.
 * @returns what differed (nothing when the incremental projection was right)
 */
export function finishRebuildRows<V>(store: EventStore, fold: RowFold<V>): RebuildReport {
  const tables = store.projections();
  const scratchTables = tables.scratch();
  const scratch = scratchOf(fold);
  const inc = tables.reader(fold.name);
  const reb = scratchTables.reader(scratch.name);
  let compared: { differences: RebuildReport['differences']; lastSeq: number; rows: number } | undefined;
  while (!compared) {
    syncRows(store, fold);
    while (!scratchTables.write(scratch.name, (w) => foldPage(store, scratch, w)).atHead);
    // On one snapshot: another process syncing the incremental projection meanwhile would otherwise show
    // rows of a later head than the one checked. Appends between the two folds leave them at different
    // heads: fold both again until they meet.
    compared = tables.snapshot(() => {
      const lastSeq = reb.head()?.lastSeq;
      if (lastSeq === undefined || inc.head()?.lastSeq !== lastSeq) return undefined;
      return { differences: compareRows(inc, reb), lastSeq, rows: reb.count() };
    });
  }
  const { differences, lastSeq, rows } = compared;
  if (differences.count) copyRows(tables, reb, fold.name, { lastSeq, version: fold.version });
  scratchTables.write(scratch.name, (w) => w.clear());
  return { name: fold.name, rows, lastSeq, differences };
}

/**
 * The keys whose rows differ between the incremental projection `inc` and its rebuild `reb` (at most 20
 * listed), and how many: both walked in key order a page at a time (a merge join). A row of `inc` that
 * fails authentication counts as one more difference.
 */
function compareRows(inc: ProjectionReader, reb: ProjectionReader): RebuildReport['differences'] {
  const differences = { count: 0, keys: [] as string[] };
  const note = (key: string) => {
    differences.count++;
    if (differences.keys.length < 20) differences.keys.push(key);
  };
  const PAGE = 1_000;
  let incPage: ProjectionRow[] = [];
  let rebPage: ProjectionRow[] = [];
  let incAfter: string | undefined;
  let rebAfter: string | undefined;
  let incDone = false;
  let rebDone = false;
  let damaged = false;
  const next = (which: 'inc' | 'reb'): ProjectionRow | undefined => {
    if (which === 'inc') {
      if (!incPage.length && !incDone) {
        try {
          incPage = inc.list({ byKey: true, afterKey: incAfter, limit: PAGE });
        } catch (error) {
          if (!(error instanceof ProjectionDamagedError)) throw error;
          damaged = true;
          incPage = [];
        }
        incDone = incPage.length < PAGE;
        incAfter = incPage.at(-1)?.key ?? incAfter;
      }
      return incPage.shift();
    }
    if (!rebPage.length && !rebDone) {
      rebPage = reb.list({ byKey: true, afterKey: rebAfter, limit: PAGE });
      rebDone = rebPage.length < PAGE;
      rebAfter = rebPage.at(-1)?.key ?? rebAfter;
    }
    return rebPage.shift();
  };
  let x = next('inc');
  let y = next('reb');
  while (x || y) {
    if (x && (!y || x.key < y.key)) (note(x.key), (x = next('inc')));
    else if (y && (!x || y.key < x.key)) (note(y.key), (y = next('reb')));
    else {
      if (!sameRow(x!, y!)) note(x!.key);
      x = next('inc');
      y = next('reb');
    }
  }
  if (damaged) note('(a row failed authentication)');
  return differences;
}

/**
 * Two rows hold the same data. Values are compared as data, not text: a view folded across pages was
 * reloaded from JSON in between, so a property set later sits elsewhere in the text than in a view
 * folded in one go.
 */
function sameRow(a: ProjectionRow, b: ProjectionRow): boolean {
  if (a.kind !== b.kind || a.group !== b.group || a.order !== b.order) return false;
  return a.value === b.value || canonicalJson(JSON.parse(a.value)) === canonicalJson(JSON.parse(b.value));
}

/** Replace projection `to` of `tables` by the rows of `from`, in one transaction (readers never see a half copy). */
function copyRows(tables: ProjectionTables, from: ProjectionReader, to: string, head: { lastSeq: number; version: string }): void {
  tables.write(to, (w) => {
    w.clear();
    let after: string | undefined;
    for (;;) {
      const page = from.list({ byKey: true, afterKey: after, limit: 1_000 });
      for (const r of page) w.put(r);
      if (page.length < 1_000) break;
      after = page.at(-1)!.key;
    }
    w.setHead(head);
  });
}
