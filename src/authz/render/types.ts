/** Shared shapes for the per-tool renderers (pure functions from a policy to native config). */

/** Where the run lives; renderers need absolute paths for tools that anchor rules absolutely. */
export interface RenderContext {
  /** Absolute path of the run's worktree (the agent's working directory). */
  worktree: string;
  /** Absolute path of the per-run directory outside the worktree (generated files go below it). */
  runDir: string;
  /** The user's home directory (for `~/` globs), absolute. */
  homeDir: string;
}

/** One generated file: absolute path and its full text. */
export interface GeneratedFile {
  path: string;
  content: string;
}

/** A tool's native configuration for one run. */
export interface RenderedConfig {
  tool: 'claude' | 'gemini' | 'codex';
  /** Files to write before launch (all outside the worktree). */
  files: GeneratedFile[];
  /** Command-line arguments the adapter must pass so the tool uses these files and modes. */
  args: string[];
  /** Environment variables the adapter must set for the tool. */
  env: Record<string, string>;
  /**
   * Absolute paths inside the worktree that did not exist at render time and that the tool's sandbox
   * may create as empty stand-ins to protect them (Codex mounts a read-only empty file there). After the
   * agent exits, agentctl removes each one that is still an empty file (`removePlaceholders`), so they
   * are never committed; anything else found there is left for the scope check. Empty when none.
   */
  placeholders: string[];
  /**
   * Folders in the tool's home it reads configuration from that no file of agentctl's fills (Gemini CLI's
   * user policies, Codex's rules): made empty before each launch and read-only in the OS sandbox, so code
   * the agent ran cannot plant rules there that outrank agentctl's, for itself or a later attempt. Absolute.
   */
  readOnlyDirs?: string[];
}
