/**
 * The `command` adapter: any program (aider, opencode, a script), set by `agents.command.bin` and
 * optional `agents.command.args`. It runs in the worktree with the prompt on stdin and in
 * `AGENTCTL_PROMPT`. It has no native permission system, so nothing is rendered for it: the
 * post-run scope check of its diff is what enforces the policy's write scope. Each non-empty stdout
 * line becomes an `agent.message` event; the last one is the run's summary.
 */
import { ConfigError } from '../core/errors.js';
import { clip, type AgentAdapter, type StreamParser } from './types.js';

/** Parser for plain text output: one message per non-empty line. */
export function commandParser(): StreamParser {
  let last: string | undefined;
  return {
    line(text) {
      const t = text.trimEnd();
      if (!t.trim()) return [];
      last = t;
      return [{ type: 'agent.message', payload: { text: clip(t) } }];
    },
    finish() {
      return { finalText: last, reportedError: false, errorText: undefined };
    },
  };
}

/** The `command` adapter. */
export const commandAdapter: AgentAdapter = {
  name: 'command',
  requiredFiles: () => [],
  requiredPrograms: () => [],
  apiHosts: () => [],
  credentialEnv: [],
  render: () => undefined,
  launch({ prompt, settings, interactive }) {
    if (!settings.bin) {
      throw new ConfigError('agent "command" needs agents.command.bin in .agentrc.yaml', {
        hint: 'e.g.  agents: { command: { bin: ./scripts/agent.sh, args: [] } }',
      });
    }
    return { bin: settings.bin, args: [...settings.args], env: { AGENTCTL_PROMPT: prompt }, input: interactive ? undefined : prompt };
  },
  parser: () => commandParser(),
  // Plain text has no session to resume: a later attempt gets the whole story in a fresh prompt.
  canResume: false,
};
