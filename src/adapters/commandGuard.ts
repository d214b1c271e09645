/** Where agentctl's command guard hook is, for the adapters that install it (Claude Code, Codex). */
import { join } from 'node:path';
import type { CommandGuard } from '../authz/guard.js';
import { packageRoot } from '../core/paths.js';

/**
 * The command guard: this Node running agentctl's built `dist/hooks/command-guard.js`. The plan refuses a
 * run when the script is missing (listed in the adapter's `requiredFiles`).
 * @returns absolute paths of the Node executable and the script
 */
export function commandGuard(): CommandGuard {
  return { node: process.execPath, script: join(packageRoot(), 'dist', 'hooks', 'command-guard.js') };
}
