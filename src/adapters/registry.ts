/** The adapter registry: the only place that maps an agent name to its adapter. */
import type { AgentName } from '../definition/task.js';
import { claudeAdapter } from './claude.js';
import { codexAdapter } from './codex.js';
import { commandAdapter } from './command.js';
import { geminiAdapter } from './gemini.js';
import type { AgentAdapter } from './types.js';

const ADAPTERS: Record<AgentName, AgentAdapter> = {
  claude: claudeAdapter,
  gemini: geminiAdapter,
  codex: codexAdapter,
  command: commandAdapter,
};

/** The adapter for an agent name. */
export function adapterFor(name: AgentName): AgentAdapter {
  return ADAPTERS[name];
}
