/**
 * Row projections held in memory for the life of one store handle: nothing persisted, so every process
 * folds from zero on first use. Correct (the rows are derived data, rebuilt from the log) but without
 * the "cost what is new" property; a backend without persisted tables uses it.
 */
import type { ProjectionHead, ProjectionReader, ProjectionRow, ProjectionRowQuery, ProjectionTables, ProjectionWriter } from './projectionTables.js';

/** In-memory {@link ProjectionTables}. `write` runs `fn` directly: a failing `fn` leaves its writes undone. */
export function memoryProjectionTables(): ProjectionTables {
  const tables = new Map<string, { head: ProjectionHead | undefined; rows: Map<string, ProjectionRow> }>();
  const table = (name: string) => {
    let t = tables.get(name);
    if (!t) tables.set(name, (t = { head: undefined, rows: new Map() }));
    return t;
  };
  const matches = (r: ProjectionRow, q: ProjectionRowQuery) =>
    (!q.kinds || (r.kind !== null && q.kinds.includes(r.kind))) &&
    (q.group === undefined || r.group === q.group) &&
    (q.keyPrefix === undefined || r.key.startsWith(q.keyPrefix)) &&
    (q.beforeOrder === undefined || r.order < q.beforeOrder) &&
    (q.afterKey === undefined || r.key > q.afterKey);
  const reader = (t: ReturnType<typeof table>): ProjectionReader => ({
    head: () => t.head,
    get: (key) => t.rows.get(key),
    list(q = {}) {
      const rows = [...t.rows.values()].filter((r) => matches(r, q));
      rows.sort(q.byKey ? (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : (a, b) => b.order - a.order);
      return q.limit === undefined ? rows : rows.slice(0, q.limit);
    },
    count: (q = {}) => [...t.rows.values()].filter((r) => matches(r, q)).length,
  });
  return {
    reader: (name) => reader(table(name)),
    write(name, fn) {
      const live = table(name);
      const draft = { head: live.head, rows: new Map(live.rows) };
      const w: ProjectionWriter = {
        ...reader(draft),
        put: (row) => void draft.rows.set(row.key, row),
        delete: (key) => void draft.rows.delete(key),
        clear() {
          draft.rows.clear();
          draft.head = undefined;
        },
        setHead: (head) => void (draft.head = head),
      };
      const out = fn(w);
      tables.set(name, draft);
      return out;
    },
    names: () => [...tables].filter(([, t]) => t.head).map(([n]) => n),
  };
}
