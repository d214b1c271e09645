/**
 * Rows of `agentctl.events` ↔ StoredEvent, and the SQL the PostgreSQL store reads them with. Pure.
 */
import type { StoredEvent } from '../events.js';
import type { EventQuery } from '../store.js';
import { SCHEMA } from './schema.js';

/** A row as `pg` returns it (bigint parsed to number by the worker): the same columns as SQLite's. */
export type { EventRow } from '../store.js';
export { fromRow } from '../store.js';

/** Columns in insert order. */
const COLUMNS = ['seq', 'key', 'ts', 'type', 'version', 'run_id', 'task', 'agent', 'project', 'task_type', 'payload', 'prev_hash', 'hash'] as const;
const TYPES = ['bigint', 'text', 'text', 'text', 'integer', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'] as const;

/**
 * One INSERT for any number of events: one array parameter per column (unnest), so a batch of 10,000
 * events is one statement and never meets the 65,535-parameter limit.
 * @param events stored events with their canonical payload text
 */
export function insertEvents(events: readonly { event: StoredEvent; payloadText: string }[]): { sql: string; params: unknown[]; name: string } {
  const cols: unknown[][] = COLUMNS.map(() => []);
  for (const { event: e, payloadText } of events) {
    const values = [e.seq, e.key, e.ts, e.type, e.version, e.runId ?? null, e.task ?? null, e.agent ?? null, e.project ?? null, e.taskType ?? null, payloadText, e.prevHash, e.hash];
    values.forEach((v, i) => cols[i]!.push(v));
  }
  return {
    sql: `INSERT INTO ${SCHEMA}.events (${COLUMNS.join(', ')}) SELECT * FROM unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
    params: cols,
    name: 'agentctl_insert_events',
  };
}

/** The SELECT for an {@link EventQuery} ($n parameters), in sequence order. */
export function selectEvents(q: EventQuery): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (q.runId !== undefined) add((n) => `run_id = ${n}`, q.runId);
  if (q.project !== undefined) add((n) => (q.withGlobal ? `(project = ${n} OR project IS NULL)` : `project = ${n}`), q.project);
  if (q.afterSeq !== undefined) add((n) => `seq > ${n}`, q.afterSeq);
  if (q.types?.length) add((n) => `type = ANY(${n}::text[])`, [...q.types]);
  const limit = q.limit ? ` LIMIT ${Math.floor(q.limit)}` : '';
  const selection = `SELECT * FROM ${SCHEMA}.events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
  if (q.newest) return { sql: `SELECT * FROM (${selection} ORDER BY seq DESC LIMIT ${Math.floor(q.newest)}) AS newest ORDER BY seq${limit}`, params };
  return { sql: `${selection} ORDER BY seq${limit}`, params };
}
