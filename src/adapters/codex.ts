/**
 * Codex CLI adapter.
 * Launch: `codex exec --json --strict-config -C <worktree> [-m model] <prompt>` with a per-run
 * `CODEX_HOME` holding the generated config.toml. stdin is ignored (piped stdin would be appended to
 * the prompt and awaited). Never `-s`/`--sandbox`: it overrides the permission profile.
 * Stream format (source: openai/codex `codex-rs/exec/src/exec_events.rs`, checked against 0.169):
 * `thread.started`, `turn.started`, `item.started|updated|completed` {item:{id, type, …}} with types
 * `agent_message`{text}, `reasoning`{text}, `command_execution`{command, aggregated_output, exit_code,
 * status: in_progress|completed|failed|declined}, `file_change`{changes[{path, kind}], status},
 * `mcp_tool_call`, `web_search`, `todo_list`, `error` (a warning); `turn.completed`{usage{input_tokens,
 * cached_input_tokens, output_tokens}}, `turn.failed`{error{message}}, top-level `error`{message}.
 * Sessions: `thread.started` {thread_id} is the session id; `codex exec [OPTIONS] resume <SESSION_ID>
 * <PROMPT>` continues it (codex-rs/exec/src/cli.rs: `Command::Resume(ResumeArgs{session_id, prompt})`;
 * `--json`, `-m` and the config overrides are the parent's options, given before `resume`). The rollout
 * lives in the per-run `CODEX_HOME`, which every attempt of a run shares.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { renderCodex, type CodexDiskFacts } from '../authz/render/codex.js';
import { commandGuard } from './commandGuard.js';
import type { RenderContext } from '../authz/render/types.js';
import { clip, firstSessionId, hostsOf, isSessionId, jsonLine, relativeToWorktree, type AgentAdapter, type AgentEvent, type StreamParser } from './types.js';

/** Parser for `codex exec --json` output. */
export function codexParser(worktree: string): StreamParser {
  let finalText: string | undefined;
  let reportedError = false;
  let errorText: string | undefined;
  let sawEnd = false;
  let sessionId: string | undefined;
  return {
    line(text) {
      const msg = jsonLine(text);
      if (!msg) return [];
      const out: AgentEvent[] = [];
      if (msg.type === 'thread.started') sessionId = firstSessionId(sessionId, msg.thread_id);
      const item = (msg.item ?? {}) as Record<string, unknown>;
      const id = String(item.id ?? '');
      if (msg.type === 'item.started' && item.type === 'command_execution') {
        out.push({ type: 'tool.called', payload: { id, tool: 'shell', input: { command: clip(String(item.command ?? ''), 1000) } } });
      } else if (msg.type === 'item.completed') {
        switch (item.type) {
          case 'agent_message':
            finalText = String(item.text ?? '');
            out.push({ type: 'agent.message', payload: { text: clip(finalText) } });
            break;
          case 'reasoning':
            out.push({ type: 'agent.message', payload: { text: clip(String(item.text ?? '')), kind: 'reasoning' } });
            break;
          case 'command_execution':
            out.push({ type: 'tool.result', payload: { id, isError: item.status !== 'completed', exitCode: typeof item.exit_code === 'number' ? item.exit_code : null, output: clip(String(item.aggregated_output ?? ''), 2000) } });
            if (item.status === 'declined') out.push({ type: 'permission.denied', payload: { tool: 'shell', id, input: { command: clip(String(item.command ?? ''), 1000) } } });
            break;
          case 'file_change':
            if (item.status === 'completed') {
              for (const change of (item.changes ?? []) as { path?: string; kind?: string }[]) {
                if (change.path) out.push({ type: 'file.changed', payload: { path: relativeToWorktree(change.path, worktree), tool: 'apply_patch', kind: change.kind ?? 'update' } });
              }
            }
            break;
          case 'error':
            out.push({ type: 'agent.message', payload: { text: clip(String(item.message ?? '')), severity: 'warning' } });
            break;
          default:
            break;
        }
      } else if (msg.type === 'turn.completed') {
        sawEnd = true;
        const usage = (msg.usage ?? {}) as Record<string, unknown>;
        out.push({ type: 'agent.usage', payload: { inputTokens: Number(usage.input_tokens ?? 0), outputTokens: Number(usage.output_tokens ?? 0), costUsd: null, turns: 1 } });
      } else if (msg.type === 'turn.failed') {
        sawEnd = true;
        reportedError = true;
        errorText = String((msg.error as { message?: string } | undefined)?.message ?? 'turn failed');
      } else if (msg.type === 'error') {
        errorText = String(msg.message ?? '');
      }
      return out;
    },
    finish() {
      if (!sawEnd && !reportedError) return { finalText, reportedError: true, errorText: errorText ?? 'the stream ended without turn.completed', sessionId };
      return { finalText, reportedError, errorText: reportedError ? errorText : undefined, sessionId };
    },
  };
}

/** What a worktree-relative path is on disk (never follows a final symlink). */
function kindIn(worktree: string): NonNullable<CodexDiskFacts['kind']> {
  return (rel) => {
    try {
      return lstatSync(join(worktree, rel)).isDirectory() ? 'dir' : 'file';
    } catch {
      return undefined;
    }
  };
}

/**
 * The main checkout a linked worktree was made from, read from the worktree's `.git` pointer and its
 * gitdir's `commondir` the way git resolves them. Read at render time, right after agentctl created the
 * worktree and before any agent ran in it.
 * @returns the checkout's absolute root, or undefined when the worktree is not a linked worktree of a
 *   non-bare repository
 */
export function mainCheckoutOf(worktree: string): string | undefined {
  try {
    const pointer = readFileSync(join(worktree, '.git'), 'utf8').match(/^gitdir:\s*(.+?)\s*$/m)?.[1];
    if (!pointer) return undefined;
    const gitdir = isAbsolute(pointer) ? pointer : resolve(worktree, pointer);
    const common = resolve(gitdir, readFileSync(join(gitdir, 'commondir'), 'utf8').trim());
    return basename(common) === '.git' ? dirname(common) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What Codex's commands must not see: the main checkout but its `.git`, and agentctl's home (the run
 * directory is `<AGENTCTL_HOME>/runs/<run>`, src/core/paths.ts) but this run's worktree and directory.
 */
function hiddenFor(ctx: RenderContext): NonNullable<CodexDiskFacts['hide']> {
  const hide: { root: string; except: string[] }[] = [];
  const main = mainCheckoutOf(ctx.worktree);
  if (main) hide.push({ root: main, except: [join(main, '.git')] });
  if (basename(dirname(ctx.runDir)) === 'runs') hide.push({ root: dirname(dirname(ctx.runDir)), except: [] });
  return hide;
}

function listDir(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/** The Codex CLI adapter. */
export const codexAdapter: AgentAdapter = {
  name: 'codex',
  requiredPrograms: () => [],
  requiredFiles: () => [commandGuard().script],
  apiHosts: (env) => hostsOf(env.OPENAI_BASE_URL, ['api.openai.com', 'chatgpt.com']),
  credentialEnv: ['OPENAI_API_KEY', 'CODEX_API_KEY', 'OPENAI_BASE_URL'],
  // The worktree exists when a run renders (it is created first, the protocol folder in it): below a
  // writable folder, protected paths missing at start become placeholders, removed after the run, and
  // the main checkout's entries are hidden from commands (see renderCodex).
  render: (policy, ctx) => renderCodex(policy, ctx, commandGuard(), { kind: kindIn(ctx.worktree), list: listDir, hide: hiddenFor(ctx) }),
  canResume: true,
  launch({ prompt, worktree, settings, rendered, interactive, resume }) {
    const args = [...settings.args];
    if (!interactive) args.push('exec', '--json', '--strict-config', '-C', worktree);
    args.push(...(rendered?.args ?? []));
    if (settings.model) args.push('-m', settings.model);
    // The subcommand comes after every parent option: `exec [OPTIONS] resume <SESSION_ID> <PROMPT>`.
    if (!interactive && isSessionId(resume)) args.push('resume', resume);
    if (!interactive) args.push(prompt);
    return { bin: settings.bin, args, env: { ...rendered?.env }, input: undefined };
  },
  parser: codexParser,
};
