/** `agentctl audit` (sampled auto merges awaiting a verdict) and `audit agree|disagree <run> --note`. */
import { EXIT, InputError, StateError } from '../core/errors.js';
import { isEvent, payloadOf } from '../evidence/eventSchemas.js';
import { countRuns, listRuns } from '../evidence/runsStore.js';
import { currentHost, currentHuman, findRun } from '../orchestrator/context.js';
import { printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export async function list(opts: { json?: boolean }): Promise<number> {
  return withContext((ctx) => {
    const project = ctx.project.config.project;
    // Sampled merges awaiting a verdict, and the number judged, are indexed in the runs projection.
    const pending = listRuns(ctx.store, project, { group: 'audit' }).runs.reverse().map((r) => {
      const sampled = ctx.store.query({ runId: r.runId, types: ['audit.sampled'] }).at(-1);
      return { runId: r.runId, task: r.task, agent: r.agent, sampledAt: sampled?.ts ?? r.updatedAt, probability: sampled && isEvent(sampled, 'audit.sampled') ? payloadOf(sampled, 'audit.sampled').probability : null, mergeSha: r.mergeSha ?? null };
    });
    const judged = { size: countRuns(ctx.store, project, { group: 'audited' }) };
    if (opts.json) printJson({ pending, audited: judged.size });
    else if (pending.length === 0) println(`No sampled auto merge awaits an audit (${judged.size} audited).`);
    else println(table(['RUN', 'TASK', 'AGENT', 'MERGE', 'SAMPLED'], pending.map((p) => [p.runId, p.task, p.agent, String(p.mergeSha).slice(0, 10), p.sampledAt.slice(0, 19)].map((c) => terminalSafe(c)))), '', 'Record a verdict: agentctl audit agree|disagree <run> --note "…"  (diff: agentctl review show <run>)');
    return EXIT.OK;
  });
}

async function verdict(kind: 'agreed' | 'disagreed', id: string, opts: { note?: string; json?: boolean }): Promise<number> {
  if (kind === 'disagreed' && !opts.note) throw new InputError('--note is required for a disagreement: say what was wrong', { field: '--note' });
  return withContext(async (ctx) => {
    const run = findRun(ctx, id);
    if (run.state !== 'merged') throw new StateError(`run ${run.runId} is ${run.state}; audits apply to merged runs`);
    const [event] = ctx.store.append({ type: kind === 'agreed' ? 'audit.agreed' : 'audit.disagreed', runId: run.runId, task: run.task, agent: run.agent, project: run.project, taskType: run.taskType, payload: { by: await currentHuman(ctx), host: currentHost(), note: opts.note ?? null } });
    if (opts.json) printJson({ event });
    else println(`Recorded: audit ${kind === 'agreed' ? 'agrees with' : 'disagrees with'} run ${terminalSafe(run.runId)} (event #${event!.seq}).`);
    return EXIT.OK;
  });
}

export const agree = (id: string, opts: { note?: string; json?: boolean }) => verdict('agreed', id, opts);
export const disagree = (id: string, opts: { note?: string; json?: boolean }) => verdict('disagreed', id, opts);
