/** `agentctl tasks`: tasks with requested and effective autonomy. */
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { loadProfiles } from '../definition/load.js';
import { controlsOf, trustOf } from '../orchestrator/context.js';
import { effectiveAutonomyOf, policyFor } from '../orchestrator/plan.js';
import { allTasks } from '../orchestrator/tasks.js';
import { colorState, printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function tasks(opts: { json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const { items, errors } = allTasks(ctx);
    const trust = await trustOf(ctx);
    const controls = controlsOf(ctx);
    const cfg = ctx.project.config;
    const profiles = loadProfiles(ctx.project);
    const rows = items.flatMap((t) => {
      let policy;
      try {
        policy = policyFor(ctx, t, profiles);
      } catch (error) {
        // A task whose profiles do not compose is listed as an error, like a task file that does not parse.
        if (!(error instanceof InputError)) throw error;
        errors.push(error);
        return [];
      }
      const eff = effectiveAutonomyOf(ctx, t, policy, trust, controls);
      return [{ id: t.id, title: t.title, agent: t.agent, type: t.type, profiles: t.profiles, priority: t.priority, tags: t.tags, requested: t.autonomy, effective: eff.level, sandbox: policy.sandbox.value, why: eff.reasons, file: t.file }];
    });
    if (opts.json) {
      printJson({ tasks: rows, errors: errors.map((e) => ({ file: e.file ?? null, field: e.field ?? null, message: e.message })) });
    } else {
      if (rows.length === 0 && errors.length === 0) println(`No tasks in ${terminalSafe(cfg.tasksDir)}/. Create one, e.g. ${terminalSafe(cfg.tasksDir)}/fix-readme.md (see README).`);
      else if (rows.length) {
        println(table(['TASK', 'AGENT', 'TYPE', 'REQUESTED', 'EFFECTIVE', 'SANDBOX', 'TITLE'], rows.map((r) => [terminalSafe(r.id), terminalSafe(r.agent), terminalSafe(r.type), colorState(terminalSafe(r.requested)), colorState(r.effective), r.sandbox === 'os' ? 'os' : chalk.red('NONE'), terminalSafe(r.title)])));
        for (const r of rows) if (r.effective !== r.requested) println(chalk.dim(`  ${terminalSafe(r.id)}: ${terminalSafe(r.why.slice(1).join('; '))}`));
      }
      for (const e of errors) process.stderr.write(`${chalk.red('invalid task:')} ${terminalSafe(e.message)}\n`);
    }
    return errors.length ? EXIT.INPUT : EXIT.OK;
  });
}
