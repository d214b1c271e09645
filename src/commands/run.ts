/** `agentctl run <task>`: run one task through the pipeline with live progress. */
import chalk from 'chalk';
import { render } from 'ink';
import { createElement } from 'react';
import { EXIT } from '../core/errors.js';
import type { StoredEvent } from '../evidence/events.js';
import { runTask } from '../orchestrator/run.js';
import { describeEvent } from '../ui/describe.js';
import { outputMode, printJson, println } from '../ui/output.js';
import { RunProgress } from '../ui/RunProgress.js';
import { withContext } from './shared.js';

export default async function run(taskId: string, opts: { claim?: boolean; json?: boolean }): Promise<number> {
  const mode = outputMode(opts.json);
  const controller = new AbortController();
  const onSigint = (): void => {
    process.stderr.write('\nagentctl: stopping the agent (Ctrl-C again to force)…\n');
    controller.abort();
    process.once('SIGINT', () => process.kill(process.pid, 'SIGKILL'));
  };
  if (!opts.claim) process.once('SIGINT', onSigint);
  const events: StoredEvent[] = [];
  let view: ReturnType<typeof render> | undefined;
  let taskLabel = taskId;
  let agentLabel = '';
  const onEvent = (e: StoredEvent): void => {
    events.push(e);
    if (e.type === 'run.planned') agentLabel = e.agent ?? '';
    if (mode === 'interactive' && !opts.claim) {
      const el = createElement(RunProgress, { task: taskLabel, agent: agentLabel, events: [...events] });
      if (view) view.rerender(el);
      else view = render(el, { stdout: process.stdout, patchConsole: false, exitOnCtrlC: false });
    } else {
      const line = describeEvent(e);
      if (line && e.type !== 'agent.message') process.stderr.write(`${chalk.dim(`[${e.runId?.slice(-6)}]`)} ${line}\n`);
    }
  };
  try {
    return await withContext(async (ctx) => {
      taskLabel = taskId;
      const result = await runTask(ctx, taskId, {
        claim: opts.claim === true,
        interactiveTerminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
        signal: controller.signal,
        onEvent,
      });
      view?.unmount();
      const r = result.run;
      if (mode === 'json') printJson({ run: r, decision: result.decision ?? null });
      else {
        println('', `${chalk.bold('run')} ${r.runId}  ${r.task}  ${r.state}`);
        if (r.state === 'merged') println(`Merged into ${r.baseBranch} (${r.mergeSha?.slice(0, 10)}).`);
        else if (r.state === 'awaiting_review' || r.state === 'failed' || r.state === 'interrupted') {
          if (result.decision) println(chalk.dim(`why: ${result.decision.reasons.join('; ')}`));
          println(`Next: agentctl review show ${r.runId}`, `      agentctl review merge ${r.runId}   |   agentctl review discard ${r.runId}`);
        }
      }
      if (r.state === 'interrupted') return EXIT.INTERRUPTED;
      if (r.state === 'failed') return EXIT.AGENT;
      if (r.gate && !r.gate.passed) return EXIT.GATE_FAILED;
      return EXIT.OK;
    });
  } finally {
    view?.unmount();
    process.removeListener('SIGINT', onSigint);
  }
}
