/** `agentctl halt` / `agentctl resume`: the kill switch (any terminal, no repository needed). */
import chalk from 'chalk';
import { EXIT, StateError } from '../core/errors.js';
import { agentctlHome, homePaths } from '../core/paths.js';
import { openEventStore } from '../evidence/store.js';
import { controlsOf } from '../orchestrator/context.js';
import { halt, operator, resume } from '../orchestrator/controls.js';
import { printJson, println } from '../ui/output.js';

function withStore<T>(fn: (store: ReturnType<typeof openEventStore>) => T): T {
  const store = openEventStore(homePaths(agentctlHome()).database);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export async function haltCmd(opts: { reason?: string; json?: boolean }): Promise<number> {
  const store = openEventStore(homePaths(agentctlHome()).database);
  try {
    const { event, stopped, survivors } = await halt(store, operator(), opts.reason ?? 'no reason given');
    if (opts.json) printJson({ halted: true, event, stopped, survivors });
    else {
      println(chalk.red(`Halted (event #${event.seq}). No run starts until: agentctl resume`));
      for (const s of stopped) println(`  stopped ${s.project}/${s.task} run ${s.runId} (agent pid ${s.agentPid})`);
      if (stopped.length === 0) println('  no agent was running');
      for (const s of survivors) println(chalk.red(`  STILL RUNNING after SIGKILL: run ${s.runId}, pids ${s.pids.join(', ')}`));
    }
    // Exit 5 (state) names every survivor: the halt is recorded, but not every process is gone.
    return survivors.length ? EXIT.STATE : EXIT.OK;
  } finally {
    store.close();
  }
}

export async function resumeCmd(opts: { note?: string; json?: boolean }): Promise<number> {
  return withStore((store) => {
    if (!controlsOf({ store }).halted) throw new StateError('agentctl is not halted');
    const event = resume(store, operator(), opts.note);
    if (opts.json) printJson({ resumed: true, event });
    else println(`Resumed (event #${event.seq}).`);
    return EXIT.OK;
  });
}
