/** `agentctl doctor [--json]`: a checklist of what runs need here, each problem with its fix. */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { packageVersion } from '../core/paths.js';
import { runDoctor, type CheckStatus, type DoctorCheck } from '../orchestrator/doctor.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

const MARK: Record<CheckStatus, string> = { ok: chalk.green('✓'), warn: chalk.yellow('!'), fail: chalk.red('✗'), skip: chalk.dim('-') };
const GROUP_TITLE: Record<DoctorCheck['group'], string> = { project: 'Project', agents: 'Agents', sandbox: 'OS sandbox', git: 'Git', log: 'Event log' };

export default async function doctor(opts: { json?: boolean }): Promise<number> {
  const report = await runDoctor(process.cwd(), process.env);
  const code = report.ok ? EXIT.OK : EXIT.CONFIG;
  if (opts.json) {
    printJson({ ok: report.ok, usableAgents: report.usableAgents, checks: Object.fromEntries(report.checks.map((c) => [c.id, c])) });
    return code;
  }
  println(`agentctl doctor ${chalk.dim(`(agentctl ${packageVersion()}, Node ${process.version}, ${process.platform})`)}`);
  let group: DoctorCheck['group'] | undefined;
  for (const c of report.checks) {
    if (c.group !== group) println('', chalk.bold(GROUP_TITLE[c.group]));
    group = c.group;
    const line = `  ${MARK[c.status]} ${c.title.padEnd(18)} ${terminalSafe(c.detail, { multiline: true }).replace(/\n/g, '\n' + ' '.repeat(23))}`;
    println(c.status === 'skip' ? chalk.dim(line) : line);
    if (c.fix && (c.status === 'fail' || c.status === 'warn')) println(`  ${' '.repeat(21)}${chalk.dim('fix:')} ${terminalSafe(c.fix)}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  println(
    '',
    report.ok
      ? chalk.green(`Runs can start here (agents: ${report.usableAgents.join(', ')}).`)
      : chalk.red(`Runs cannot start here: ${failed} check${failed === 1 ? '' : 's'} failed (✗); each says how to fix it.`),
  );
  return code;
}
