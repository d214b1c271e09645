/**
 * Many runs at once: `agentctl run --all | --tag T | --type T [--concurrency N]`. Each task runs in its
 * own worktree through the same pipeline; a task that is refused (hold, halted, bad input) is reported
 * and skipped, never fatal to the others. One AbortSignal stops them all.
 */
import pLimit from 'p-limit';
import { AgentctlError } from '../core/errors.js';
import type { Task } from '../definition/task.js';
import type { StoredEvent } from '../evidence/events.js';
import type { Context } from './context.js';
import { runTask, type RunTaskResult } from './run.js';
import { allTasks } from './tasks.js';

/** Which tasks a batch runs. */
interface BatchSelection {
  all?: boolean;
  tag?: string;
  type?: string;
}

/** One task's result in a batch. */
export interface BatchItem {
  task: string;
  result: RunTaskResult | undefined;
  /** Why the task did not run (refusal message), when it did not. */
  skipped: string | undefined;
  exitCode: number;
}

/** Select tasks (file order: priority, then id). Invalid task files are not selected. */
export function selectTasks(tasks: readonly Task[], sel: BatchSelection): Task[] {
  return tasks.filter((t) => sel.all || (sel.tag !== undefined && t.tags.includes(sel.tag)) || (sel.type !== undefined && t.type === sel.type));
}

/**
 * Run the selected tasks with at most `concurrency` at a time.
 * @param onEvent receives every event of every run
 * @returns one item per selected task, in selection order
 */
export async function runBatch(ctx: Context, sel: BatchSelection, options: { concurrency: number; signal: AbortSignal; onEvent?: (task: string, e: StoredEvent) => void; onSkip?: (task: string, why: string) => void }): Promise<BatchItem[]> {
  const tasks = selectTasks(allTasks(ctx).items, sel);
  const limit = pLimit(Math.max(1, options.concurrency));
  return Promise.all(
    tasks.map((t) =>
      limit(async (): Promise<BatchItem> => {
        if (options.signal.aborted) {
          options.onSkip?.(t.id, 'stopped before it started');
          return { task: t.id, result: undefined, skipped: 'stopped before it started', exitCode: 130 };
        }
        try {
          const result = await runTask(ctx, t.id, { interactiveTerminal: false, signal: options.signal, onEvent: (e) => options.onEvent?.(t.id, e) });
          return { task: t.id, result, skipped: undefined, exitCode: 0 };
        } catch (error) {
          if (!(error instanceof AgentctlError)) throw error;
          options.onSkip?.(t.id, error.message);
          return { task: t.id, result: undefined, skipped: error.message, exitCode: error.exitCode };
        }
      }),
    ),
  );
}
