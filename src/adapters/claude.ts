/**
 * Claude Code adapter.
 * Launch: `claude -p <prompt> --output-format stream-json --verbose --settings <file> --permission-mode <mode>`
 * with a per-run `CLAUDE_CONFIG_DIR` and `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`.
 * Stream format (one JSON object per line; source: `@anthropic-ai/claude-agent-sdk` `sdk.d.ts`,
 * code.claude.com/docs/en/headless): `system/init`, `assistant` (message.content: text | tool_use
 * {id,name,input} | thinking), `user` (tool_result {tool_use_id, content, is_error}), and a final
 * `result` {subtype, is_error, result?, errors?, total_cost_usd, usage, num_turns, duration_ms,
 * permission_denials[{tool_name, tool_use_id, tool_input}]}. Unknown types are ignored.
 * Sessions: `system/init` carries `session_id` (so does every later message); `--resume <session_id>`
 * with `-p <prompt>` continues that session in print mode (code.claude.com/docs/en/headless, CLI
 * reference: "--resume, -r  Resume a conversation by session ID"). The session lives in the per-run
 * `CLAUDE_CONFIG_DIR`, which every attempt of a run shares.
 */
import { CLAUDE_SANDBOX_PROGRAMS, claudeSandbox, renderClaude } from '../authz/render/claude.js';
import { commandGuard } from './commandGuard.js';
import { clip, firstSessionId, hostsOf, clipInput, isSessionId, jsonLine, relativeToWorktree, type AgentAdapter, type AgentEvent, type StreamParser } from './types.js';

/** Claude Code tools that change files, and the input field holding the path. */
const EDIT_TOOLS: Record<string, string> = { Edit: 'file_path', Write: 'file_path', MultiEdit: 'file_path', NotebookEdit: 'notebook_path' };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((b) => (b && typeof b === 'object' && 'text' in b ? String((b as { text: unknown }).text) : '')).join('');
  }
  return '';
}

/** Parser for Claude Code's stream-json output. */
export function claudeParser(worktree: string): StreamParser {
  const pending = new Map<string, { name: string; input: Record<string, unknown> }>();
  let finalText: string | undefined;
  let reportedError = false;
  let errorText: string | undefined;
  let sawResult = false;
  let sessionId: string | undefined;
  return {
    line(text) {
      const msg = jsonLine(text);
      if (!msg) return [];
      const out: AgentEvent[] = [];
      if (msg.type === 'system' && msg.subtype === 'init') sessionId = firstSessionId(sessionId, msg.session_id);
      if (msg.type === 'assistant') {
        const content = (msg.message as { content?: unknown[] } | undefined)?.content ?? [];
        for (const block of content as Record<string, unknown>[]) {
          if (block.type === 'text' && typeof block.text === 'string' && block.text.trim()) {
            out.push({ type: 'agent.message', payload: { text: clip(block.text) } });
            finalText = block.text;
          } else if (block.type === 'tool_use') {
            const input = (block.input ?? {}) as Record<string, unknown>;
            pending.set(String(block.id), { name: String(block.name), input });
            const field = EDIT_TOOLS[String(block.name)];
            const path = field && typeof input[field] === 'string' ? relativeToWorktree(input[field] as string, worktree) : undefined;
            out.push({ type: 'tool.called', payload: { id: String(block.id), tool: String(block.name), input: clipInput(input), ...(path ? { path } : {}) } });
          }
        }
      } else if (msg.type === 'user') {
        const content = (msg.message as { content?: unknown } | undefined)?.content;
        if (Array.isArray(content)) {
          for (const block of content as Record<string, unknown>[]) {
            if (block.type !== 'tool_result') continue;
            const id = String(block.tool_use_id);
            const isError = block.is_error === true;
            out.push({ type: 'tool.result', payload: { id, isError, output: clip(textOf(block.content), 2000) } });
            const call = pending.get(id);
            const field = call ? EDIT_TOOLS[call.name] : undefined;
            if (call && field && !isError && typeof call.input[field] === 'string') {
              out.push({ type: 'file.changed', payload: { path: relativeToWorktree(call.input[field] as string, worktree), tool: call.name } });
            }
            pending.delete(id);
          }
        }
      } else if (msg.type === 'result') {
        sawResult = true;
        const usage = (msg.usage ?? {}) as Record<string, unknown>;
        out.push({
          type: 'agent.usage',
          payload: {
            inputTokens: Number(usage.input_tokens ?? 0) + Number(usage.cache_read_input_tokens ?? 0) + Number(usage.cache_creation_input_tokens ?? 0),
            outputTokens: Number(usage.output_tokens ?? 0),
            costUsd: typeof msg.total_cost_usd === 'number' ? msg.total_cost_usd : null,
            turns: typeof msg.num_turns === 'number' ? msg.num_turns : null,
          },
        });
        for (const d of (msg.permission_denials ?? []) as Record<string, unknown>[]) {
          out.push({ type: 'permission.denied', payload: { tool: String(d.tool_name), id: String(d.tool_use_id), input: clipInput(d.tool_input) } });
        }
        // Decide on subtype, not only is_error (error subtypes have been seen with is_error false).
        if (msg.subtype !== 'success' || msg.is_error === true) {
          reportedError = true;
          errorText = typeof msg.result === 'string' ? msg.result : Array.isArray(msg.errors) ? msg.errors.join('; ') : String(msg.subtype);
        }
        if (typeof msg.result === 'string' && msg.result.trim()) finalText = msg.result;
      }
      return out;
    },
    finish() {
      if (!sawResult && !reportedError) return { finalText, reportedError: true, errorText: 'the stream ended without a result message', sessionId };
      return { finalText, reportedError, errorText, sessionId };
    },
  };
}

/** The Claude Code adapter. */
export const claudeAdapter: AgentAdapter = {
  name: 'claude',
  apiHosts: (env) => hostsOf(env.ANTHROPIC_BASE_URL, ['api.anthropic.com']),
  credentialEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_BASE_URL'],
  requiredFiles: () => [commandGuard().script],
  requiredPrograms: (policy, platform) => (claudeSandbox(policy) && platform === 'linux' ? [...CLAUDE_SANDBOX_PROGRAMS] : []),
  render: (policy, ctx) => renderClaude(policy, ctx, commandGuard()),
  canResume: true,
  launch({ prompt, settings, rendered, interactive, resume }) {
    const args = [...settings.args];
    if (!interactive && isSessionId(resume)) args.push('--resume', resume);
    if (!interactive) args.push('-p', prompt, '--output-format', 'stream-json', '--verbose');
    args.push(...(rendered?.args ?? []));
    if (settings.model) args.push('--model', settings.model);
    return { bin: settings.bin, args, env: { ...rendered?.env }, input: undefined };
  },
  parser: claudeParser,
};
