/** `agentctl promote`: evidence and recommendations per agent × task type, a promotion you approve, or the HTML report. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import chalk from 'chalk';
import { EXIT, InputError } from '../core/errors.js';
import { profileEvidence, type TrustProfile } from '../evidence/projections/trust.js';
import { recommend, roundsOf, windowOf, type TrustRules } from '../evidence/projections/trust-rules.js';
import { currentHuman, trustOf } from '../orchestrator/context.js';
import { promote } from '../orchestrator/promote.js';
import { verdictRows } from '../evidence/projectionCatalog.js';
import { agreementOfRows } from '../orchestrator/reviewAsk.js';
import { colorState, printJson, println, table } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { trustReportHtml } from '../ui/report.js';
import { withContext } from './shared.js';

/** Merged runs of a profile in its window, each with the attempts it took (1 = merged the first time). */
const mergesOf = (p: TrustProfile, rules: TrustRules, now: string | undefined) =>
  windowOf(p.runs, rules, now).filter((r) => r.outcome === 'merged').map((r) => ({ runId: r.runId, rounds: roundsOf(r), afterChanges: roundsOf(r) > 1, unsandboxed: r.unsandboxed === true }));

const pct = (r: number | null) => (r === null ? '-' : `${Math.round(r * 100)}%`);

export default async function promoteCmd(agent: string | undefined, opts: { type?: string; to?: string; note?: string; force?: boolean; html?: string; json?: boolean }): Promise<number> {
  return withContext(async (ctx) => {
    const cfg = ctx.project.config;
    if (agent === undefined) {
      if (opts.type || opts.to) throw new InputError('name the agent to promote: agentctl promote <agent> --type <t> --to <level>');
      const state = await trustOf(ctx);
      const rows = Object.values(state.profiles)
        .sort((a, b) => a.agent.localeCompare(b.agent) || a.taskType.localeCompare(b.taskType))
        .map((p) => {
          const evidence = profileEvidence(p, cfg.trust, state.lastTs);
          return { profile: p, evidence, recommendation: recommend(p.level, evidence, cfg.trust) };
        });
      if (opts.html) {
        const file = resolve(process.cwd(), opts.html);
        try {
          writeFileSync(file, trustReportHtml(cfg.project, rows, new Date().toISOString()));
        } catch (error) {
          throw new InputError(`cannot write the report to ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { field: '--html', hint: 'Name a file in a folder that exists and that you can write.' });
        }
        if (!opts.json) println(`Wrote ${terminalSafe(file)}`);
      }
      if (opts.json) {
        printJson({
          project: cfg.project,
          rules: cfg.trust,
          profiles: rows.map(({ profile: p, evidence, recommendation }) => ({ agent: p.agent, project: p.project, taskType: p.taskType, level: p.level, reason: p.reason, evidence, recommendation, merges: mergesOf(p, cfg.trust, state.lastTs), history: p.history })),
          reviewers: agreementOfRows(verdictRows(ctx.store, cfg.project)),
        });
      } else if (!opts.html) {
        if (rows.length === 0) println('No evidence yet: run some tasks first.');
        else {
          println(
            table(
              ['AGENT', 'TYPE', 'LEVEL', 'RUNS', 'UNSANDBOXED', 'MERGED', 'AFTER CHANGES', 'MERGE RATE', 'UNMODIFIED', 'GATE FAIL', 'SCOPE', 'REGRESS', 'RECOMMENDATION'],
              rows.map(({ profile: p, evidence: e, recommendation: r }) => [
                terminalSafe(p.agent), terminalSafe(p.taskType), colorState(terminalSafe(p.level)), String(e.runs), e.unsandboxed ? chalk.red(String(e.unsandboxed)) : '0', String(e.mergedFirstTime), e.mergedAfterChanges ? chalk.yellow(String(e.mergedAfterChanges)) : '0', pct(e.mergeRate), pct(e.approvedUnmodifiedRate), pct(e.gateFailureRate), String(e.scopeViolations), String(e.regressions),
                r.kind === 'promote' ? chalk.green(`promote to ${terminalSafe(r.next)}`) : r.kind === 'demote' ? chalk.red(`demote: ${terminalSafe(r.reason)}`) : r.kind === 'close' ? chalk.yellow(`close: ${terminalSafe(r.missing[0])}`) : r.next ? chalk.dim(`${r.missing.length} conditions missing for ${terminalSafe(r.next)}`) : '-',
              ]),
            ),
            '',
            chalk.dim('MERGED counts first-time merges; AFTER CHANGES merges that needed review request-changes (merged, but neither "unmodified" nor in the consecutive streak toward auto).'),
            chalk.dim('Runs without the OS sandbox (UNSANDBOXED) never count as merged toward auto.'),
            chalk.dim('Promote with: agentctl promote <agent> --type <type> --to review|auto --note "…"   (HTML report: --html report.html)'),
          );
        }
      }
      return EXIT.OK;
    }
    if (!opts.type) throw new InputError('--type is required: the task type the promotion applies to', { field: '--type' });
    if (!opts.to) throw new InputError('--to is required: review or auto', { field: '--to' });
    const event = await promote(ctx, { agent, taskType: opts.type, to: opts.to, by: await currentHuman(ctx), note: opts.note, force: opts.force === true });
    if (opts.json) printJson({ event });
    else println(`Promoted ${terminalSafe(agent)} for "${terminalSafe(opts.type)}" tasks from ${terminalSafe(event.payload.from)} to ${terminalSafe(event.payload.to)} (event #${event.seq})${event.payload.forced ? chalk.yellow(' — forced: the evidence did not meet the rules') : ''}.`);
    return EXIT.OK;
  });
}
