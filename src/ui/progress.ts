/** A progress bar on stderr for long work, drawn with the `progress` package. */
import ProgressBar from 'progress';
import type { Progress } from '../core/progress.js';

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
