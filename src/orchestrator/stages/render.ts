/** Writing a tool's generated configuration (shared by runs and `review ask`). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RenderedConfig } from '../../authz/render/types.js';

/**
 * Write a tool's generated config files (mode 0400: nobody rewrites them during the run; folders 0700)
 * and create the tool homes its env names (`*_HOME`, `*_DIR`: Codex refuses a missing CODEX_HOME).
 * All paths are outside the worktree; inside the OS sandbox the files are read-only mounts.
 */
export function writeRendered(rendered: RenderedConfig | undefined): void {
  for (const f of rendered?.files ?? []) {
    mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
    rmSync(f.path, { force: true });
    writeFileSync(f.path, f.content, { mode: 0o400 });
  }
  for (const [name, value] of Object.entries(rendered?.env ?? {})) {
    if (/_(HOME|DIR)$/.test(name)) mkdirSync(value, { recursive: true, mode: 0o700 });
  }
  for (const dir of rendered?.readOnlyDirs ?? []) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}
