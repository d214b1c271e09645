/** `agentctl review show <run>`: diff stat, diff, gate result and the agent's final summary. */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import type { RunView } from '../evidence/projections/runs.js';
import { findRun } from '../orchestrator/context.js';
import { runDiff } from '../orchestrator/review.js';
import { fetchRunCommits, reviewSite } from '../orchestrator/reviewRemote.js';
import { describeChanges, describeFileChange, gitAttributesWarning, leftOutText } from '../ui/describe.js';
import { colorState, printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

/** Untrusted one-line text (names, titles, reasons), made visible before any colour. */
const one = (v: unknown): string => terminalSafe(v);
/** Untrusted block of text, each line indented. */
const block = (v: unknown, indent: string): string => indent + terminalSafe(v, { multiline: true }).split('\n').join(`\n${indent}`);

/** Every attempt of a run: who sent it back and with which notes, how it ran, what it ended with. */
function attemptLines(run: RunView): string[] {
  const out = [chalk.bold(`Attempts (${run.attempts.length}: changes were requested)`)];
  for (const a of run.attempts) {
    const gate = a.gate ? `gate ${a.gate.passed ? 'passed' : 'failed'}` : 'no gate result';
    const session = a.resumed ? `resumed session ${one(a.resumed)}` : a.attempt > 1 ? 'fresh session' : 'first session';
    out.push(`  ${chalk.bold(String(a.attempt))}  ${one(a.startedAt)}  ${session} · ${gate} · ${a.fileCount} file(s) · decision ${one(a.decision ?? '-')}`);
    if (a.note !== undefined) out.push(chalk.yellow(`     changes requested by ${one(a.by ?? '?')}:`), block(a.note, '       '));
    out.push(chalk.dim(`     agent: ${one(a.summary ?? '(no summary)')}`));
  }
  return out;
}

export default async function reviewShow(id: string, opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    // The diff is read through the checkout (the commits are in the common object store), never through
    // the run's worktree and its `.git` pointer; a failure is an error, not an empty diff.
    // A run held by another clone: its commits come from the remote first (no ref you see moves).
    const site = reviewSite(ctx, run);
    if (site === 'remote') await fetchRunCommits(ctx, run);
    const head = run.mergeSha ? `${run.mergeSha}^2` : run.headSha;
    const read = await runDiff(ctx.git, ctx.project.root, run.baseSha, head);
    const { text: diff, omitted } = read;
    if (opts.json) {
      printJson({ run, diff, diffOmitted: omitted ?? null, diffLeftOut: read.leftOut, site });
      return EXIT.OK;
    }
    const attributes = gitAttributesWarning(run.files);
    println(
      `${chalk.bold(one(run.task))} — ${one(run.title)}`,
      `run ${one(run.runId)} · ${one(run.agent)} · ${colorState(run.state)} · requested ${one(run.requested)}, effective ${one(run.effective)}`,
      `branch ${one(run.branch ?? '-')} from ${one(run.baseBranch)}@${one(run.baseSha.slice(0, 10))}${site === 'remote' ? chalk.dim(' (worktree on another machine; fetched from the remote)') : ''}`,
      run.osSandbox === 'os' ? chalk.dim('OS sandbox: every process of the run was confined') : chalk.red.bold('UNSANDBOXED: this run\'s processes could read and write anything you can (capped at review; earns nothing toward auto)'),
      '',
      chalk.bold('Summary'),
      block(run.summary ?? run.agentError ?? '(the agent gave no summary)', '  '),
      '',
      chalk.bold(`Changes (${describeChanges(run.files, run)})`),
      ...run.files.map((f) => `  ${one(f.path)}  ${f.insertions >= 0 && f.deletions >= 0 ? `${chalk.green(`+${f.insertions}`)} ${chalk.red(`-${f.deletions}`)}` : chalk.dim(describeFileChange(f))}`),
      ...(run.fileCount > run.files.length ? [chalk.dim(`  … and ${run.fileCount - run.files.length} more (the log lists the first ${run.files.length})`)] : []),
      '',
      chalk.bold('Gate'),
      run.gate ? `  ${one(run.gate.command)}: ${colorState(run.gate.passed ? 'passed' : 'failed')} (exit ${run.gate.exitCode})` : '  no gate ran (none configured, or the run ended before its gate)',
      ...(run.gate && !run.gate.passed ? [chalk.dim(block(run.gate.output.trim().split('\n').slice(-15).join('\n'), '    '))] : []),
      '',
      chalk.bold('Scope'),
      run.scopeViolations.length ? run.scopeViolations.map((v) => chalk.red(`  ${one(v.path)}: ${one(v.reason)}`)).join('\n') : '  all changes inside the policy\'s write scope',
      ...(run.scopeViolationsMore ? [chalk.red(`  … and ${run.scopeViolationsMore} more violations (the log lists the first ${run.scopeViolations.length})`)] : []),
      `  ${run.toolCalls} tool call(s), ${run.permissionDenials} denied by policy`,
      ...(attributes ? [chalk.yellow(`  ! ${attributes}`)] : []),
      '',
    );
    if (run.attempts.length > 1) println(...attemptLines(run), '');
    if (run.reasoning.length || run.escalations.length || run.statuses.length) {
      println(chalk.bold('Reasoning trace (reported by the agent)'));
      for (const r of run.reasoning) {
        println(`  - decided: ${one(r.decided ?? '?')}  ${chalk.dim(`(confidence ${one(r.confidence ?? '?')})`)}`, chalk.dim(`    observed: ${one(r.observed ?? '')}; considered: ${one(JSON.stringify(r.considered ?? ''))}`));
      }
      for (const e of run.escalations) println(chalk.yellow(`  ! escalated (${one(e.source)}): ${one(e.reason ?? '')}${e.question ? ` — ${one(e.question)}` : ''}`));
      if (run.statuses.length) println(chalk.dim(`  last status: ${one(run.statuses.at(-1))}`));
      println('');
    }
    if (run.followUps.length) println(chalk.bold('Follow-up tasks requested'), `  ${run.followUps.map(one).join(', ')}  ${chalk.dim('(run with: agentctl run <id>)')}`, '');
    if (run.handover) println(chalk.bold('Handover note (for the next run of this task type)'), block(run.handover.trimEnd(), '  '), '');
    for (const v of run.reviewerVerdicts) println(chalk.bold(`Independent review by ${one(v.reviewer)}: ${one(v.verdict)}`), block(v.comments, '  '), '');
    if (omitted || diff || read.leftOut.length) {
      println(chalk.bold('Diff'));
      if (omitted) println(chalk.yellow(`  not shown: ${omitted}; the changed files are listed above`));
      else if (read.leftOut.length) println(chalk.yellow(`  ${terminalSafe(leftOutText(read))}`));
      if (diff) println(terminalSafe(diff, { multiline: true }));
    }
    return EXIT.OK;
  });
}
