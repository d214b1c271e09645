/** `agentctl completion <bash|zsh|fish>`: print a completion script generated from the command table. */
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from '../cli/completion.js';
import { buildProgram } from '../cli/program.js';
import { EXIT, InputError } from '../core/errors.js';

export default async function completion(shell: string): Promise<number> {
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    throw new InputError(`unknown shell "${shell}" (one of ${COMPLETION_SHELLS.join(', ')})`, { field: 'shell' });
  }
  // A fresh program: the script describes exactly the commands this agentctl has.
  process.stdout.write(completionScript(shell as CompletionShell, buildProgram(() => undefined)));
  return EXIT.OK;
}
