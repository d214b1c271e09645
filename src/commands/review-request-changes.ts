/** `agentctl review request-changes <run> --note "…" [--file comments.md]`: send a run back to its agent. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import type { StoredEvent } from '../evidence/events.js';
import { currentHuman, findRun } from '../orchestrator/context.js';
import { requestChanges } from '../orchestrator/requestChanges.js';
import { describeEvent, shortRunId } from '../ui/describe.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { interruptible } from '../cli/interrupt.js';
import { withContext } from './shared.js';

interface Opts {
  note?: string;
  file?: string;
  json?: boolean;
}

/** The notes from --note and --file (in that order), read before anything else happens. */
function notesOf(opts: Opts): string {
  const parts: string[] = [];
  if (opts.note !== undefined) parts.push(opts.note);
  if (opts.file !== undefined) {
    const file = resolve(process.cwd(), opts.file);
    try {
      parts.push(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new InputError(`cannot read --file ${opts.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; nothing was recorded`, { file, field: '--file' });
    }
  }
  if (parts.length === 0) throw new InputError('say what to change: --note "…" or --file comments.md', { field: '--note' });
  return parts.map((p) => p.trim()).filter(Boolean).join('\n\n');
}

export default async function reviewRequestChanges(id: string, opts: Opts): Promise<number> {
  const note = notesOf(opts);
  const { controller, dispose } = interruptible('the agent');
  // Progress goes to stderr as for `run`; every line went through terminalSafe (describeEvent).
  const onEvent = (e: StoredEvent): void => {
    const text = describeEvent(e);
    if (text && e.type !== 'agent.message') process.stderr.write(`${chalk.dim(`[${terminalSafe(e.task ?? '')} ${shortRunId(e.runId)}]`)} ${text}\n`);
  };
  try {
    return await withContext(async (ctx) => {
      const run = findRun(ctx, id);
      const by = await currentHuman(ctx);
      const result = await requestChanges(ctx, run, { note, by }, onEvent, { signal: controller.signal });
      const r = result.run;
      if (opts.json) {
        printJson({ runId: r.runId, attempt: result.attempt, resumed: result.resumed ?? null, state: r.state, decision: result.decision ?? null, by, run: r });
      } else {
        println(
          '',
          `${chalk.bold('run')} ${terminalSafe(r.runId)}  ${terminalSafe(r.task)}  attempt ${result.attempt}  ${r.state}`,
          chalk.dim(result.resumed ? `resumed ${terminalSafe(r.agent)}'s session ${terminalSafe(result.resumed)}` : `${terminalSafe(r.agent)} started a fresh session with the task, the notes and the diff`),
        );
        if (result.decision) println(chalk.dim(`why: ${terminalSafe(result.decision.reasons.join('; '))}`));
        println(`Next: agentctl review show ${r.runId}`, `      agentctl review merge ${r.runId}   |   agentctl review request-changes ${r.runId} --note "…"   |   agentctl review discard ${r.runId}`);
      }
      if (r.state === 'interrupted') return EXIT.INTERRUPTED;
      if (r.state === 'failed') return EXIT.AGENT;
      if (r.gate && !r.gate.passed) return EXIT.GATE_FAILED;
      return EXIT.OK;
    });
  } finally {
    dispose();
  }
}
