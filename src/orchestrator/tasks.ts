/**
 * Runnable tasks: the project's task files plus the follow-up tasks agents requested through the
 * protocol (`task.requested` events). Requested tasks live in the log, not in the user's checkout; they
 * run with the intersection of the requested profiles and the parent run's profiles, never more.
 */
import { InputError } from '../core/errors.js';
import { findTask, loadTasks, type Loaded } from '../definition/load.js';
import { TASK_ID_PATTERN, TASK_TYPE_PATTERN, type Task } from '../definition/task.js';
import { requestRows } from '../evidence/projectionCatalog.js';
import type { Context } from './context.js';

/** Follow-up tasks requested by runs of this project (latest request per id wins; file tasks win over requests). */
function requestedTasks(ctx: Context, fileIds: ReadonlySet<string>): Loaded<Task> {
  const items = new Map<string, Task>();
  const errors: InputError[] = [];
  // One row per requested id (the latest request), from the persisted follow-up projection.
  for (const e of requestRows(ctx.store, ctx.project.config.project)) {
    const p = e.payload;
    const id = typeof p.id === 'string' ? p.id : '';
    const where = `run ${e.runId ?? '?'}`;
    if (!TASK_ID_PATTERN.test(id)) {
      errors.push(new InputError(`${where}: requested task field "id": ${JSON.stringify(id)} is not a valid id`, { file: where, field: 'id' }));
      continue;
    }
    if (fileIds.has(id)) continue;
    const type = typeof p.type === 'string' && TASK_TYPE_PATTERN.test(p.type) ? p.type : (e.taskType ?? 'general');
    const requested = Array.isArray(p.profile) ? p.profile.map(String) : typeof p.profile === 'string' ? [p.profile] : ctx.project.config.taskDefaults.profiles;
    const prompt = typeof p.prompt === 'string' && p.prompt.trim() ? p.prompt.trim() : typeof p.title === 'string' ? p.title : id;
    items.set(id, {
      id,
      title: typeof p.title === 'string' ? p.title.slice(0, 200) : id,
      autonomy: 'review',
      agent: (e.agent as Task['agent']) ?? ctx.project.config.taskDefaults.agent,
      profiles: requested,
      type,
      priority: 0,
      tags: ['requested'],
      paths: [],
      gate: ctx.project.config.taskDefaults.gate,
      timeoutMs: ctx.project.config.taskDefaults.timeoutMs,
      prompt,
      file: where,
      requestedBy: { runId: e.runId ?? '', parentProfiles: Array.isArray(p.parentProfiles) ? p.parentProfiles.map(String) : [] },
    });
  }
  return { items: [...items.values()], errors };
}

/** Task files and requested follow-ups. */
export function allTasks(ctx: Context): Loaded<Task> {
  const files = loadTasks(ctx.project);
  const requested = requestedTasks(ctx, new Set(files.items.map((t) => t.id)));
  return { items: [...files.items, ...requested.items], errors: [...files.errors, ...requested.errors] };
}

/**
 * Find a runnable task by id (task file first, then requested follow-ups).
 * @throws InputError when unknown or invalid
 */
export function findRunnableTask(ctx: Context, id: string): Task {
  try {
    return findTask(ctx.project, id);
  } catch (error) {
    const requested = requestedTasks(ctx, new Set()).items.find((t) => t.id === id);
    if (requested) return requested;
    throw error;
  }
}
