/**
 * Numbered schema migrations for the event store. Append new ones; never edit an applied one.
 * Each runs once, in order, inside an immediate transaction.
 */

/** One migration: its number and SQL. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'append-only events with hash chain',
    sql: `
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        ts TEXT NOT NULL,
        type TEXT NOT NULL,
        version INTEGER NOT NULL,
        run_id TEXT,
        task TEXT,
        agent TEXT,
        project TEXT,
        task_type TEXT,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX events_by_run ON events(run_id, seq);
      CREATE INDEX events_by_trust_key ON events(project, agent, task_type, seq);
      CREATE INDEX events_by_type ON events(type, seq);
      CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
      -- REPLACE INTO / INSERT OR REPLACE / UPSERT would delete the old row without firing the DELETE trigger
      -- (recursive triggers are off), so an insert that collides with an existing row is refused first.
      CREATE TRIGGER events_no_replace BEFORE INSERT ON events
        WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq OR key = NEW.key)
        BEGIN SELECT RAISE(ABORT, 'events are append-only: an event with this sequence or key exists'); END;
    `,
  },
  {
    version: 2,
    name: 'persisted projections (derived data, rebuildable from events)',
    sql: `
      CREATE TABLE projections (
        name TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        rules_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'authenticated projections (HMAC-SHA256 under the log key; a row without a valid one is rebuilt)',
    sql: `ALTER TABLE projections ADD COLUMN mac TEXT;`,
  },
];
