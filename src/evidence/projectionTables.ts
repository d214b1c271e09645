/**
 * The storage interface of row projections: derived data kept beside the event log so a reader costs
 * what it reads, not the size of history. Backend-neutral (the SQLite implementation is
 * projectionStore.ts; a PostgreSQL one implements the same). Rows are authenticated under the log key:
 * a row or head that fails its check is reported with {@link ProjectionDamagedError}, never returned.
 */
import { InternalError } from '../core/errors.js';

/** One row of a projection: a JSON value and the fields it is found by. */
export interface ProjectionRow {
  /** Unique within the projection (e.g. a run id). */
  key: string;
  /** JSON text. */
  value: string;
  /** First index (equality), e.g. a run's state. */
  kind: string | null;
  /** Second index (equality), e.g. `review` for runs awaiting a human. */
  group: string | null;
  /** Sort key within a projection: larger = newer (e.g. the sequence that created the row). */
  order: number;
}

/** How far a projection has folded the log, and with which logic. */
export interface ProjectionHead {
  /** Every event with a sequence up to this one has been folded in. */
  lastSeq: number;
  /** Version of the fold logic (and rules) the rows were computed with; another version means rebuild. */
  version: string;
}

/** Selection of rows. Rows come newest first (`order` descending), or by key with `byKey`. */
export interface ProjectionRowQuery {
  /** Only rows whose kind is one of these. */
  kinds?: readonly string[];
  /** Only rows in this group. */
  group?: string;
  /** Only rows whose key starts with this. */
  keyPrefix?: string;
  /** Only rows with `order` below this (paging newest first). */
  beforeOrder?: number;
  /** Key order (ascending) instead of newest first, starting after `afterKey` (paging a whole projection). */
  byKey?: boolean;
  afterKey?: string;
  /** At most this many rows. */
  limit?: number;
}

/** Reads of one projection (outside or inside a write). */
export interface ProjectionReader {
  /** The head, or undefined when the projection was never written (or was dropped). */
  head(): ProjectionHead | undefined;
  get(key: string): ProjectionRow | undefined;
  /** The rows of those of `keys` that exist (any order): one read for many, where each read is a round trip (PostgreSQL). */
  getMany(keys: readonly string[]): ProjectionRow[];
  list(q?: ProjectionRowQuery): ProjectionRow[];
  /** Number of rows matching (same filters as `list`; no paging). */
  count(q?: Pick<ProjectionRowQuery, 'kinds' | 'group'>): number;
}

/** Writes inside one exclusive transaction. */
export interface ProjectionWriter extends ProjectionReader {
  put(row: ProjectionRow): void;
  delete(key: string): void;
  /** Remove every row and the head. */
  clear(): void;
  setHead(head: ProjectionHead): void;
}

/** Every row projection of one log. */
export interface ProjectionTables {
  /** Reads of projection `name` (no lock: each call sees a committed state). */
  reader(name: string): ProjectionReader;
  /**
   * Run `fn` in one exclusive write transaction (other writers, appends included, wait): everything it
   * reads, the log included, is the latest committed state, and all its writes land together or not at all.
   * @throws InternalError when the log was opened for inspection only; whatever `fn` throws (nothing is written)
   */
  write<T>(name: string, fn: (w: ProjectionWriter) => T): T;
  /** Names of the projections with a head (for rebuilds and clean-up). */
  names(): string[];
  /**
   * Run `fn`'s reads (of these tables, the scratch ones and the log) on one committed state: what other
   * processes append or write meanwhile is not seen. `fn` must not write.
   * @returns what `fn` returns
   */
  snapshot<T>(fn: () => T): T;
  /**
   * Tables for a rebuild's scratch projections (the rows folded from zero to compare with the incremental
   * ones), with the same interface. SQLite: private to this connection (a temporary table, in a file SQLite
   * deletes on close, so memory stays bounded), not durable and not authenticated, since no other process
   * can write them. Their writes still run in the log's write transaction, so a fold reads one committed
   * state of the log. PostgreSQL: the shared tables themselves (scratch names must not collide with others).
   */
  scratch(): ProjectionTables;
}

/** A row or head whose authentication code does not verify: edited outside agentctl. Rebuild the projection. */
export class ProjectionDamagedError extends InternalError {
  constructor(readonly projection: string, what: string) {
    super(`the persisted projection "${projection}" failed its authentication check (${what}); it is rebuilt from the log`);
  }
}
