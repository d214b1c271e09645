/**
 * A synchronous PostgreSQL connection: the event store's interface is synchronous (better-sqlite3), so
 * the `pg` client runs in a worker thread (worker.ts) and each call blocks until it answers (synckit,
 * Atomics.wait under the hood). One worker serves every connection of the process.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import type { PgRequest, PgResponse } from './worker.js';
import { redactUrl } from '../../core/urlSecrets.js';

/** Milliseconds one call may take before it fails (a lock held by a stuck writer, an unreachable host). */
export const PG_CALL_TIMEOUT_MS = 30_000;

/**
 * The built worker, always dist/evidence/pg/worker.js: the bundled CLI (dist/bundle/) has no worker beside
 * it, and under vitest this module runs from src/ as TypeScript, which a worker thread on Node 20 cannot
 * load (`npm run build` first).
 */
function workerPath(): string {
  const built = join(packageRoot(), 'dist', 'evidence', 'pg', 'worker.js');
  if (!existsSync(built)) throw new ConfigError(`the PostgreSQL store's worker ${built} is not built`, { hint: 'Run: npm run build' });
  return built;
}

let call: ((req: PgRequest) => PgResponse) | undefined;
function bridge(): (req: PgRequest) => PgResponse {
  // Loaded on first use only: synckit costs ~50 ms to load, which a SQLite user should not pay on every command.
  const { createSyncFn } = createRequire(import.meta.url)('synckit') as typeof import('synckit');
  call ??= createSyncFn<(req: PgRequest) => Promise<PgResponse>>(workerPath(), { timeout: PG_CALL_TIMEOUT_MS });
  return call;
}

/** A PostgreSQL error as the worker reports it (SQLSTATE `code` when the server sent one). */
export interface PgError extends Error {
  code?: string;
}

/** The SQLSTATE of an error thrown by a {@link PgSession} call, if any. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One connection, used synchronously. */
export interface PgSession {
  /** Rows of one statement (`$1`… parameters). @throws the server's error (see {@link sqlState}) */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): T[];
  /** Several statements in order with one wait (stops at the first error, which it throws). @returns the rows of each */
  batch(statements: readonly { sql: string; params?: readonly unknown[]; name?: string }[]): Record<string, unknown>[][];
  /** Run `fn` in a transaction (BEGIN … COMMIT, ROLLBACK when it throws). Not reentrant. */
  tx<T>(fn: () => T, begin?: string): T;
  /** Run `fn`'s reads on one snapshot (a read-only REPEATABLE READ transaction): what it reads in several statements agrees. */
  snapshot<T>(fn: () => T): T;
  close(): void;
}

/**
 * Connect to `url`.
 * @throws ConfigError naming the (redacted) URL when the connection fails
 */
export function connectPg(url: string): PgSession {
  const send = bridge();
  let conn: number;
  try {
    conn = (send({ op: 'connect', url, applicationName: 'agentctl' }) as { conn: number }).conn;
  } catch (error) {
    throw new ConfigError(`cannot connect to the PostgreSQL store ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
  }
  let open = true;
  /** A lost server or connection (no SQLSTATE, or class 08) is the environment's fault: ConfigError; the server's refusals pass as they are. */
  const call = (req: PgRequest): PgResponse => {
    try {
      return send(req);
    } catch (error) {
      const state = sqlState(error);
      if (state !== undefined && /^[0-9A-Z]{5}$/.test(state) && !state.startsWith('08')) throw error;
      throw new ConfigError(`lost the PostgreSQL store ${redactUrl(url)}: ${(error as Error).message}; what this command did not report as recorded was not`, { cause: error });
    }
  };
  const query = <T>(sql: string, params: readonly unknown[] = []): T[] => {
    if (!open) throw new Error('the PostgreSQL connection is closed');
    return (call({ op: 'query', conn, sql, params }) as { rows: T[] }).rows;
  };
  return {
    query,
    batch(statements) {
      if (!open) throw new Error('the PostgreSQL connection is closed');
      return (call({ op: 'batch', conn, statements: statements.map((st) => ({ sql: st.sql, params: st.params ?? [], name: st.name })) }) as { results: Record<string, unknown>[][] }).results;
    },
    snapshot(fn) {
      return this.tx(fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    },
    tx(fn, begin = 'BEGIN') {
      query(begin);
      try {
        const out = fn();
        query('COMMIT');
        return out;
      } catch (error) {
        try {
          query('ROLLBACK');
        } catch {
          // The connection may be gone; the server rolls back on its own then.
        }
        throw error;
      }
    },
    close() {
      if (!open) return;
      open = false;
      send({ op: 'end', conn });
    },
  };
}
