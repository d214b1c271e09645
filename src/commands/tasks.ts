/** `agentctl tasks`: tasks with requested and effective autonomy. */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { earnedLevel } from '../evidence/projections/trust.js';
import { controlsOf, trustOf } from '../orchestrator/context.js';
import { controlCaps, taskAutonomy } from '../orchestrator/decide.js';
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
    const rows = items.map((t) => {
      const eff = taskAutonomy(t, earnedLevel(trust, cfg.trust, t.agent, cfg.project, t.type), cfg.sensitivePaths, controlCaps(controls, t.agent, cfg.project));
      return { id: t.id, title: t.title, agent: t.agent, type: t.type, profiles: t.profiles, priority: t.priority, tags: t.tags, requested: t.autonomy, effective: eff.level, why: eff.reasons, file: t.file };
    });
    if (opts.json) {
      printJson({ tasks: rows, errors: errors.map((e) => ({ file: e.file ?? null, field: e.field ?? null, message: e.message })) });
    } else {
      if (rows.length === 0 && errors.length === 0) println(`No tasks in ${terminalSafe(cfg.tasksDir)}/. Create one, e.g. ${terminalSafe(cfg.tasksDir)}/fix-readme.md (see README).`);
      else if (rows.length) {
        println(table(['TASK', 'AGENT', 'TYPE', 'REQUESTED', 'EFFECTIVE', 'TITLE'], rows.map((r) => [terminalSafe(r.id), terminalSafe(r.agent), terminalSafe(r.type), colorState(terminalSafe(r.requested)), colorState(r.effective), terminalSafe(r.title)])));
        for (const r of rows) if (r.effective !== r.requested) println(chalk.dim(`  ${terminalSafe(r.id)}: ${terminalSafe(r.why.slice(1).join('; '))}`));
      }
      for (const e of errors) process.stderr.write(`${chalk.red('invalid task:')} ${terminalSafe(e.message)}\n`);
    }
    return errors.length ? EXIT.INPUT : EXIT.OK;
  });
}
