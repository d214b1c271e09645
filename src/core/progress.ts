/** Progress of long work (a verification or rebuild of the whole log), reported to the command that started it. */

/** Called as long work advances: `done` of `total` units (events), `done` reaching `total` at the end. */
export type ProgressFn = (done: number, total: number) => void;

/** A progress display for one piece of work. */
export interface Progress {
  /** The callback to pass to the work; undefined when nothing is shown (the work adds nothing to its loop). */
  report: ProgressFn | undefined;
  /** End the display, finished or not (call it in a `finally`). */
  end(): void;
}

/**
 * Where work that no command asked for and that may take seconds is shown: bringing a saved projection
 * up to date from far behind (on first use of a large log, or after an upgrade changed a projection's
 * logic). The CLI sets `begin` (a bar on stderr when it is a terminal); elsewhere nothing is shown.
 */
export const catchUp: { begin?: (what: string) => Progress } = {};

/**
 * The items of `items`, in order, reporting to `onProgress` before the first (0), after every `every` of
 * them and once at the end (with `total`). A walk stopped early (a consumer that returns at a bad item)
 * gets no final report.
 * @param items what the work walks (e.g. the log's events, read lazily)
 * @param total how many items there are (known beforehand, e.g. a count read in the same snapshot)
 * @param onProgress told (done, total), both counts of items; undefined: nothing is reported
 * @param every items between two reports (a count)
 * @returns the same items; `items` itself without `onProgress` (nothing is added to a hot loop)
 */
export function reporting<T>(items: Iterable<T>, total: number, onProgress: ProgressFn | undefined, every = 10_000): Iterable<T> {
  if (!onProgress) return items;
  return (function* () {
    let done = 0;
    onProgress(0, total);
    for (const item of items) {
      yield item;
      if (++done % every === 0) onProgress(done, total);
    }
    onProgress(total, total);
  })();
}
