/** Progress of long work (a verification or rebuild of the whole log), reported to the command that started it. */

/** Called as long work advances: `done` of `total` units (events), `done` reaching `total` at the end. */
export type ProgressFn = (done: number, total: number) => void;

/**
 * The items of `items`, in order, reporting to `onProgress` after every `every` of them and once at the
 * end (with `total`). Without `onProgress`, `items` itself (nothing is added to a hot loop).
 * @param total how many items there are (known beforehand, e.g. a count read in the same snapshot)
 * @param every items between two reports (a count)
 */
export function reporting<T>(items: Iterable<T>, total: number, onProgress: ProgressFn | undefined, every = 10_000): Iterable<T> {
  if (!onProgress) return items;
  return (function* () {
    let done = 0;
    for (const item of items) {
      yield item;
      if (++done % every === 0) onProgress(done, total);
    }
    onProgress(total, total);
  })();
}
