/**
 * Runnable tasks: the project's task files plus the follow-up tasks agents requested through the
 * protocol (`task.requested` events). Requested tasks live in the log, not in the user's checkout; they
 * run with the intersection of the requested profiles and the parent run's profiles, never more.
 */
import { basename } from 'node:path';
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
    // The requesting run's type, whatever the request says: an agent does not choose the trust profile
    // its follow-up's merge counts for (an attack session credited a `feature` run's follow-ups to `docs`).
    const type = e.taskType && TASK_TYPE_PATTERN.test(e.taskType) ? e.taskType : 'general';
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

/**
 * The ids the task files hold: those that loaded and those of files that did not (a follow-up never
 * takes the id of a task file with a typo in it: an attack session's did, and ran its own prompt).
 */
function fileTaskIds(files: Loaded<Task>): Set<string> {
  const broken = files.errors.flatMap((e) => (e.file?.endsWith('.md') ? [basename(e.file, '.md')] : []));
  return new Set([...files.items.map((t) => t.id), ...broken]);
}

/** Task files and requested follow-ups. */
export function allTasks(ctx: Context): Loaded<Task> {
  const files = loadTasks(ctx.project);
  const requested = requestedTasks(ctx, fileTaskIds(files));
  return { items: [...files.items, ...requested.items], errors: [...files.errors, ...requested.errors] };
}

/**
 * Find a runnable task by id (task file first, then requested follow-ups).
 * @throws InputError when unknown or invalid (a task file that does not parse: its own error, never a follow-up of that id)
 */
export function findRunnableTask(ctx: Context, id: string): Task {
  try {
    return findTask(ctx.project, id);
  } catch (error) {
    // A task file's own error (or its folder's) stands: only an id no file holds can be a follow-up.
    if (error instanceof InputError && error.file !== undefined) throw error;
    const requested = requestedTasks(ctx, new Set()).items.find((t) => t.id === id);
    if (requested) return requested;
    throw error;
  }
}
