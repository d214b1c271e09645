/**
 * `agentctl review`: runs awaiting a human decision. On a terminal (stdin and stdout a TTY, no --json,
 * not CI) an interactive review (src/ui/review/); otherwise the table, as it always was.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from 'ink';
import { createElement } from 'react';
import { EXIT } from '../core/errors.js';
import { AGENT_NAMES } from '../definition/task.js';
import { isReviewable } from '../evidence/projections/runs.js';
import { listRuns } from '../evidence/runsStore.js';
import { childEnv, runProcess } from '../exec/runner.js';
import type { Context } from '../orchestrator/context.js';
import { requestChanges } from '../orchestrator/requestChanges.js';
import { reviewSite } from '../orchestrator/reviewRemote.js';
import { reviewSession, type SendBack } from '../orchestrator/reviewSession.js';
import { colorState, outputMode, printJson, println, table } from '../ui/output.js';
import { ReviewApp, type ReviewOutcome } from '../ui/review/ReviewApp.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';


export default async function reviewList(opts: { json?: boolean }): Promise<number> {
  const onTerminal = outputMode(opts.json) === 'interactive' && process.stdin.isTTY === true;
  return withContext((ctx) => {
    // Reviewable runs are indexed (each has a live worktree, so they are few); oldest first, as before.
    const list = listRuns(ctx.store, ctx.project.config.project, { group: 'review' }).runs.filter(isReviewable).reverse();
    // An empty queue needs no screen: the one line says it.
    if (onTerminal && list.length > 0) return interactive(ctx);
    // `site`: `worktree` when this clone holds the run's worktree, `remote` when it is reviewed through the remote.
    if (opts.json) printJson({ runs: list.map((r) => ({ ...r, site: reviewSite(ctx, r) })) });
    else if (list.length === 0) println('Nothing awaits review.');
    else {
      println(
        table(
          ['RUN', 'TASK', 'AGENT', 'STATE', 'FILES', '+/-', 'GATE', 'SCOPE'],
          list.map((r) => [
            terminalSafe(r.runId) + (reviewSite(ctx, r) === 'remote' ? ' (remote)' : ''),
            terminalSafe(r.task),
            terminalSafe(r.agent),
            colorState(r.state),
            String(r.fileCount),
            `+${r.insertions} -${r.deletions}`,
            r.gate ? colorState(r.gate.passed ? 'passed' : 'failed') : '-',
            r.scopeViolations.length ? colorState('failed') + ` (${r.scopeViolations.length + r.scopeViolationsMore})` : 'ok',
          ]),
        ),
        '',
        'Show one with: agentctl review show <run>',
      );
    }
    return EXIT.OK;
  });
}

/** The alternate screen: the review draws there, and the shell's screen comes back as it was on exit. */
const ALT_SCREEN_ON = '\u001b[?1049h';
/** Cursor home, clear the screen: each screen (and the editor) starts on an empty one. */
const CLEAR = '\u001b[H\u001b[2J';
const ALT_SCREEN_OFF = '\u001b[?1049l';

/** Run the interactive review until the human quits; hands the terminal to $EDITOR between screens. */
async function interactive(ctx: Context): Promise<number> {
  // `c` sends a run back through the same request-changes as the CLI command (it prints nothing while
  // the screen is up); the attempt's agent stops when the human interrupts (SIGINT/SIGTERM).
  const abort = new AbortController();
  const sendBack: SendBack = (c, run, request) => requestChanges(c, run, request, undefined, { signal: abort.signal });
  const session = reviewSession(ctx, sendBack);
  const editor = process.env.EDITOR?.trim() || undefined;
  const leave = (): void => void process.stdout.write(ALT_SCREEN_OFF);
  let app: ReturnType<typeof render> | undefined;
  let stopped = false;
  // SIGINT (Ctrl-C before the screen took the keyboard, or `kill -INT`) and SIGTERM end the review the
  // way q does, so the terminal is restored; an action still running is waited for below.
  const stop = (): void => {
    stopped = true;
    abort.abort();
    app?.unmount();
  };
  // Even if something kills the loop below, the shell gets its screen back.
  process.once('exit', leave);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    let resume: { runId: string; note?: string | undefined } | undefined;
    while (!stopped) {
      let outcome: ReviewOutcome = { kind: 'quit' };
      // Again on every round: an editor that used the alternate screen itself has left it on exit.
      process.stdout.write(ALT_SCREEN_ON + CLEAR);
      app = render(
        createElement(ReviewApp, { runs: session.runs(), actions: session.actions, reviewers: AGENT_NAMES, externalEditor: editor !== undefined, resume, onExit: (o: ReviewOutcome) => (outcome = o) }),
        { stdout: process.stdout, stdin: process.stdin, exitOnCtrlC: false, patchConsole: false },
      );
      await app.waitUntilExit();
      app.cleanup();
      const done = outcome as ReviewOutcome;
      if (stopped || done.kind === 'quit' || !editor) break;
      process.stdout.write(CLEAR);
      resume = { runId: done.runId, note: await editNote(ctx.project.root, editor, done.runId) };
    }
  } finally {
    leave();
    // From here Ctrl-C is the default again (as during `agentctl review merge`).
    process.removeListener('exit', leave);
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  if (session.busy()) process.stderr.write('agentctl: waiting for the action in progress to finish (Ctrl-C stops an agent sent back with c)…\n');
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdin.unref();
  // While waiting, Ctrl-C or SIGTERM stops the agent of an attempt in progress (recorded interrupted)
  // instead of leaving it running with nobody waiting for it.
  const interrupt = (): void => abort.abort();
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    await session.idle();
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
  }
  return EXIT.OK;
}

/**
 * Let the human write a note in `$EDITOR` (run through `sh -c`, as git runs it, so `EDITOR="code -w"`
 * works) on a temp file, with the terminal handed to it; `#` lines are dropped.
 * @param cwd where the editor runs (the repository root)
 * @param editor the `$EDITOR` command line (the human's own setting, not agent text)
 * @param runId named in the file's comment lines
 * @param env the environment to take the editor's allowlisted variables from
 * @returns the note, trimmed ('' when nothing was written or the editor exited non-zero)
 */
export async function editNote(cwd: string, editor: string, runId: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'agentctl-review-'));
  const file = join(dir, 'CHANGES.md');
  try {
    writeFileSync(file, `\n# Changes requested for run ${terminalSafe(runId)}: write your notes above.\n# Lines starting with # are dropped; an empty note sends nothing.\n`);
    const r = await runProcess('sh', ['-c', `${editor} "$1"`, 'sh', file], { cwd, env: childEnv(env, {}, ['EDITOR', 'VISUAL', 'DISPLAY', 'COLORTERM']), interactive: true, acceptExitCodes: 'any' });
    if (r.exitCode !== 0) return '';
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n')
      .trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
