/** `agentctl halt` / `agentctl resume`: the kill switch (any terminal, no repository needed). */
import chalk from 'chalk';
import { ConfigError, EXIT, StateError } from '../core/errors.js';
import { agentctlHome, homePaths } from '../core/paths.js';
import { openStore, type StoreTarget } from '../evidence/openStore.js';
import type { EventStore } from '../evidence/store.js';
import { controlsOf, storeTargetAt } from '../orchestrator/context.js';
import { halt, operator, resume, stopRunning } from '../orchestrator/controls.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

async function withStore<T>(fn: (store: EventStore) => T): Promise<T> {
  const store = openStore(await storeTargetAt(process.cwd()), homePaths(agentctlHome()), process.env);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export async function haltCmd(opts: { reason?: string; json?: boolean }): Promise<number> {
  const target = await storeTargetAt(process.cwd());
  let store;
  try {
    store = openStore(target, homePaths(agentctlHome()), process.env);
  } catch (error) {
    // A log that fails verification refuses writes (and every run), but the kill switch still stops agents.
    if (!(error instanceof ConfigError)) throw error;
    return haltUnrecorded(target, error, opts);
  }
  try {
    const { event, stopped, survivors } = await halt(store, operator(), opts.reason ?? 'no reason given');
    if (opts.json) printJson({ halted: true, event, stopped, survivors });
    else {
      println(chalk.red(`Halted (event #${event.seq}). No run starts until: agentctl resume`));
      for (const s of stopped) println(`  stopped ${terminalSafe(s.project)}/${terminalSafe(s.task)} run ${terminalSafe(s.runId)} (agent pid ${terminalSafe(s.agentPid)})`);
      if (stopped.length === 0) println('  no agent was running');
      for (const s of survivors) println(chalk.red(`  STILL RUNNING after SIGKILL: run ${s.runId}, pids ${s.pids.join(', ')}`));
    }
    // Exit 5 (state) names every survivor: the halt is recorded, but not every process is gone.
    return survivors.length ? EXIT.STATE : EXIT.OK;
  } finally {
    store.close();
  }
}

/** Stop every agent from a log that cannot be written; exit 7 (integrity) after saying why nothing was recorded. */
async function haltUnrecorded(target: StoreTarget, why: ConfigError, opts: { json?: boolean }): Promise<number> {
  const store = openStore(target, homePaths(agentctlHome()), process.env, { allowTampered: true });
  try {
    const { stopped, survivors } = await stopRunning(store);
    if (opts.json) printJson({ halted: false, recorded: false, problem: why.message, stopped, survivors });
    else {
      println(chalk.red(`The event log cannot be written (${terminalSafe(why.message)}): the halt is NOT recorded, but every agent was stopped.`));
      for (const s of stopped) println(`  stopped ${terminalSafe(s.project)}/${terminalSafe(s.task)} run ${terminalSafe(s.runId)} (agent pid ${terminalSafe(s.agentPid)})`);
      for (const s of survivors) println(chalk.red(`  STILL RUNNING after SIGKILL: run ${s.runId}, pids ${s.pids.join(', ')}`));
      println('  No run starts while the log fails verification: agentctl audit verify');
    }
    return survivors.length ? EXIT.STATE : EXIT.INTEGRITY;
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
