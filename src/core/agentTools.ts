/**
 * The agent CLIs agentctl was tested with: their npm packages, and the versions pinned in agentctl's own
 * `devDependencies` (the versions the adapters' rendered configs were checked against). Read from the
 * installed `package.json` at run time, so `doctor` and the tests never disagree about them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths.js';

/** Agent tools installed from npm, and the package each comes from. */
export const AGENT_PACKAGES = {
  claude: '@anthropic-ai/claude-code',
  gemini: '@google/gemini-cli',
  codex: '@openai/codex',
} as const;

/** The agents that are npm-installed CLIs (every agent but `command`). */
export type ToolAgent = keyof typeof AGENT_PACKAGES;
export const TOOL_AGENTS = Object.keys(AGENT_PACKAGES) as ToolAgent[];

/**
 * The version of each agent CLI agentctl was tested with (`devDependencies` of its package.json, a range
 * prefix such as `^` or `~` dropped), or undefined when package.json does not pin it.
 * @param root the package root (default: the installed agentctl)
 */
export function testedAgentVersions(root: string = packageRoot()): Record<ToolAgent, string | undefined> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const dev = pkg.devDependencies ?? {};
  const out = {} as Record<ToolAgent, string | undefined>;
  for (const agent of TOOL_AGENTS) out[agent] = dev[AGENT_PACKAGES[agent]]?.replace(/^[\^~=v\s]+/, '');
  return out;
}

/** `npm install -g <package>@<version>`: how to install the tested version of an agent CLI. */
export function installCommand(agent: ToolAgent, version: string | undefined): string {
  return `npm install -g ${AGENT_PACKAGES[agent]}${version ? `@${version}` : ''}`;
}
