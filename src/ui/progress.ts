/** A progress bar on stderr for long work, drawn with the `progress` package. */
import ProgressBar from 'progress';
import type { Progress, ProgressFn } from '../core/progress.js';

/**
 * A progress bar on stderr (`verifying events [=====     ] 45% 3.1s`), for work that may take seconds on a
 * large log. Drawn only when stderr is a terminal that takes cursor moves (not `TERM=dumb`), at most every
 * 100 ms, and erased at the end (also by `end()` when the work stopped half-way: a failure's report must
 * not follow a half bar), so a pipe, a log file or `--json` output never holds it.
 * @param what what is being done, a fixed text (e.g. `verifying events`)
 */
export function stderrProgress(what: string): Progress {
  if (!process.stderr.isTTY || process.env.TERM === 'dumb') return { report: undefined, end: () => undefined };
  let bar: ProgressBar | undefined;
  return {
    report: (done, total) => {
      if (total <= 0) return;
      bar ??= new ProgressBar(`${what} [:bar] :percent :elapseds`, { total, width: 30, renderThrottle: 100, clear: true, stream: process.stderr });
      if (!bar.complete) bar.update(Math.min(1, done / total));
    },
    end: () => {
      if (bar && !bar.complete) bar.terminate();
    },
  };
}

/**
 * Run `work` with a {@link stderrProgress} bar, erased when it returns or throws.
 * @param what what is being done, a fixed text
 * @param work gets the callback to report to (undefined when nothing is drawn)
 * @returns what `work` returns; throws what it throws
 */
export function withStderrProgress<T>(what: string, work: (report: ProgressFn | undefined) => T): T {
  const progress = stderrProgress(what);
  try {
    return work(progress.report);
  } finally {
    progress.end();
  }
}
