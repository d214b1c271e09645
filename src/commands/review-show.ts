/** `agentctl review show <run>`: diff stat, diff, gate result and the agent's final summary. */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { findRun } from '../orchestrator/context.js';
import { colorState, printJson, println } from '../ui/output.js';
import { withContext } from './shared.js';

export default async function reviewShow(id: string, opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    const cwd = run.sandboxLive && run.worktree ? run.worktree : ctx.project.root;
    const head = run.mergeSha ? `${run.mergeSha}^2` : run.headSha;
    const diff = head && head !== run.baseSha ? await ctx.git.diff(cwd, run.baseSha, head).catch(() => '') : '';
    if (opts.json) {
      printJson({ run, diff });
      return EXIT.OK;
    }
    println(
      `${chalk.bold(run.task)} — ${run.title}`,
      `run ${run.runId} · ${run.agent} · ${colorState(run.state)} · requested ${run.requested}, effective ${run.effective}`,
      `branch ${run.branch ?? '-'} from ${run.baseBranch}@${run.baseSha.slice(0, 10)}`,
      '',
      chalk.bold('Summary'),
      `  ${(run.summary ?? run.agentError ?? '(the agent gave no summary)').split('\n').join('\n  ')}`,
      '',
      chalk.bold(`Changes (${run.files.length} files)`),
      ...run.files.map((f) => `  ${f.path}  ${chalk.green(`+${f.insertions}`)} ${chalk.red(`-${f.deletions}`)}`),
      '',
      chalk.bold('Gate'),
      run.gate ? `  ${run.gate.command}: ${colorState(run.gate.passed ? 'passed' : 'failed')} (exit ${run.gate.exitCode})` : '  no gate configured',
      ...(run.gate && !run.gate.passed ? [chalk.dim(run.gate.output.trim().split('\n').slice(-15).map((l) => `    ${l}`).join('\n'))] : []),
      '',
      chalk.bold('Scope'),
      run.scopeViolations.length ? run.scopeViolations.map((v) => chalk.red(`  ${v.path}: ${v.reason}`)).join('\n') : '  all changes inside the policy\'s write scope',
      `  ${run.toolCalls} tool call(s), ${run.permissionDenials} denied by policy`,
      '',
    );
    if (run.reasoning.length || run.escalations.length || run.statuses.length) {
      println(chalk.bold('Reasoning trace (reported by the agent)'));
      for (const r of run.reasoning) {
        println(`  - decided: ${String(r.decided ?? '?')}  ${chalk.dim(`(confidence ${r.confidence ?? '?'})`)}`, chalk.dim(`    observed: ${String(r.observed ?? '')}; considered: ${JSON.stringify(r.considered ?? '')}`));
      }
      for (const e of run.escalations) println(chalk.yellow(`  ! escalated (${String(e.source)}): ${String(e.reason ?? '')}${e.question ? ` — ${String(e.question)}` : ''}`));
      if (run.statuses.length) println(chalk.dim(`  last status: ${run.statuses.at(-1)}`));
      println('');
    }
    if (run.followUps.length) println(chalk.bold('Follow-up tasks requested'), `  ${run.followUps.join(', ')}  ${chalk.dim('(run with: agentctl run <id>)')}`, '');
    for (const v of run.reviewerVerdicts) println(chalk.bold(`Independent review by ${v.reviewer}: ${v.verdict}`), `  ${v.comments.split('\n').join('\n  ')}`, '');
    if (diff) println(chalk.bold('Diff'), diff);
    return EXIT.OK;
  });
}
