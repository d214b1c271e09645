/** `agentctl init`: write a commented `.agentrc.yaml` and `tasks/example.md` (never overwriting). */
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { createGit } from '../exec/git.js';
import { initProject } from '../orchestrator/init.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

export default async function init(opts: { json?: boolean }): Promise<number> {
  const { root, written, facts } = await initProject(createGit(), process.cwd(), process.env);
  if (opts.json) {
    printJson({ root, written, agents: facts.agents, setup: facts.lockfile?.setup ?? null, gate: facts.gate ?? null, worktreeBlock: facts.worktreeBlock });
    return EXIT.OK;
  }
  println(
    `${chalk.green('Wrote')} ${written.join(' and ')} in ${terminalSafe(root)}`,
    `  agents found on PATH: ${facts.agents.length ? facts.agents.join(', ') : chalk.yellow('none (install one, or set agents.command.bin)')}`,
    `  worktree setup: ${facts.lockfile ? `${facts.lockfile.setup} (from ${facts.lockfile.file})${facts.worktreeBlock ? '' : ', commented out'}` : 'none (no lockfile found)'}`,
    '',
    'Next:',
    '  agentctl doctor              can runs start here?',
    '  agentctl tasks               the example task and its effective autonomy',
    '  agentctl run example         run it in a fresh worktree',
  );
  return EXIT.OK;
}
