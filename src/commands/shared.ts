/** Helpers shared by command files: open the context for the current directory and always close it. */
import { openContext, type Context } from '../orchestrator/context.js';

/** Run `fn` with a context for `process.cwd()`, closing the event store afterwards. */
export async function withContext<T>(fn: (ctx: Context) => Promise<T> | T): Promise<T> {
  const ctx = await openContext(process.cwd());
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}
