/** `agentctl policy check <task> --tool T --action 'Edit src/a.ts'`: allow or deny, with the rule that decided. */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { checkAction, parseAction } from '../authz/action.js';
import { policyFor } from '../orchestrator/plan.js';
import { findRunnableTask } from '../orchestrator/tasks.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function policyCheck(taskId: string, opts: { tool?: 'claude' | 'gemini' | 'codex' | 'command'; action: string; json?: boolean }): Promise<number> {
  const action = parseAction(opts.action);
  return withContext((ctx) => {
    const task = findRunnableTask(ctx, taskId);
    const decision = checkAction(policyFor(ctx, task), action);
    if (opts.json) printJson({ task: task.id, tool: opts.tool ?? task.agent, action, ...decision });
    else {
      println(`${decision.allowed ? chalk.green('allow') : chalk.red('deny')}  ${terminalSafe(action.kind)} ${terminalSafe(action.target)}  (${terminalSafe(opts.tool ?? task.agent)})`);
      println(chalk.dim(decision.rule ? `  decided by ${decision.rule.kind} rule "${terminalSafe(decision.rule.value)}" from ${terminalSafe(decision.rule.source)}` : '  no rule allows it (default deny)'));
    }
    return EXIT.OK;
  });
}
