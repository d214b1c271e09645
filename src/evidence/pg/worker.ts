/**
 * The worker thread behind {@link ./session.ts}: owns the `pg` connections and answers one request at a
 * time while the main thread waits (synckit: Atomics.wait). It holds no agentctl logic: SQL in, rows out,
 * so the hashing, chaining and authentication stay in the main thread where the SQLite store does them.
 *
 * Requests: `connect` (returns a connection id), `query` (rows of one statement), `batch` (several
 * statements in order, stopping at the first error), `end`.
 */
import pg from 'pg';
import { runAsWorker } from 'synckit';

// int8 (sequence numbers, counts) as JavaScript numbers: a log never reaches 2^53 events.
pg.types.setTypeParser(20, (v) => Number(v));

/** One request from the main thread. */
export type PgRequest =
  | { op: 'connect'; url: string; applicationName: string }
  | { op: 'query'; conn: number; sql: string; params: readonly unknown[] }
  | { op: 'batch'; conn: number; statements: readonly { sql: string; params: readonly unknown[]; name?: string | undefined }[] }
  | { op: 'end'; conn: number };

/** The answer: a connection id, the rows of a query (and its row count), or nothing. */
export type PgResponse = { conn: number } | { rows: Record<string, unknown>[]; rowCount: number } | { results: Record<string, unknown>[][] } | { ended: true };

const clients = new Map<number, pg.Client>();
let next = 0;

async function handle(req: PgRequest): Promise<PgResponse> {
  switch (req.op) {
    case 'connect': {
      const client = new pg.Client({ connectionString: req.url, application_name: req.applicationName });
      // A dropped connection surfaces on the next query; the error event must not crash the worker.
      client.on('error', () => undefined);
      await client.connect();
      const conn = ++next;
      clients.set(conn, client);
      return { conn };
    }
    case 'query': {
      const client = clients.get(req.conn);
      if (!client) throw new Error(`connection ${req.conn} is closed`);
      const r = await client.query({ text: req.sql, values: req.params as unknown[] });
      return { rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 };
    }
    case 'batch': {
      // Several statements for one wait of the main thread (a round trip through the worker each costs).
      const client = clients.get(req.conn);
      if (!client) throw new Error(`connection ${req.conn} is closed`);
      const results: Record<string, unknown>[][] = [];
      // A named statement is parsed and planned once per connection (the append's INSERT: ~40% of its time).
      for (const st of req.statements) results.push((await client.query({ text: st.sql, values: st.params as unknown[], ...(st.name ? { name: st.name } : {}) })).rows as Record<string, unknown>[]);
      return { results };
    }
    case 'end': {
      const client = clients.get(req.conn);
      clients.delete(req.conn);
      await client?.end().catch(() => undefined);
      return { ended: true };
    }
  }
}

runAsWorker(handle);
