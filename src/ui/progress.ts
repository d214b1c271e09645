/** A progress bar on stderr for long work, drawn with the `progress` package. */
import ProgressBar from 'progress';
import type { ProgressFn } from '../core/progress.js';

/**
 * A progress bar on stderr (`verifying events [=====     ] 45% 3.1s`), for work that may take seconds on a
 * large log. Drawn only when stderr is a terminal, at most every 100 ms, and erased when done, so a pipe,
 * a log file or `--json` output never holds it.
 * @param what what is being done, a fixed text (e.g. `verifying events`)
 * @returns the callback to pass to the work, or undefined when stderr is not a terminal
 */
export function stderrProgress(what: string): ProgressFn | undefined {
  if (!process.stderr.isTTY) return undefined;
  let bar: ProgressBar | undefined;
  return (done, total) => {
    if (total <= 0) return;
    bar ??= new ProgressBar(`${what} [:bar] :percent :elapseds`, { total, width: 30, renderThrottle: 100, clear: true, stream: process.stderr });
    if (!bar.complete) bar.update(Math.min(1, done / total));
  };
}
