/**
 * Gemini CLI adapter.
 * Launch: `gemini -p <prompt> -o stream-json --approval-mode <mode> --policy <file>` with a per-run
 * `GEMINI_CLI_HOME`, `GEMINI_CLI_TRUST_WORKSPACE=true` (headless runs in an untrusted folder exit 55)
 * and `GEMINI_CLI_NO_RELAUNCH=true` (the relaunching parent ignores SIGTERM). stdin is ignored: piped
 * stdin would be prepended to the prompt.
 * Stream format (source: google-gemini/gemini-cli `packages/core/src/output/types.ts`, checked against
 * 0.61): `init` {session_id, model}, `message` {role, content, delta}, `tool_use` {tool_name, tool_id,
 * parameters}, `tool_result` {tool_id, status, output?, error?{type, message}}, `error` {severity,
 * message}, `result` {status, error?, stats{input_tokens, output_tokens, …}}. `result.status` decides
 * success: an invalid model stream ends with status "error" and exit code 0.
 * Sessions: `init.session_id` is the session's UUID; `--resume <uuid>` (geminicli.com/docs/cli/session-management:
 * "Resume by ID: You can also provide the full session UUID") with `-p` continues it headless. Sessions
 * are kept per project under the per-run `GEMINI_CLI_HOME`, which every attempt of a run shares.
 */
import { GEMINI_WRITE_TOOLS, renderGemini } from '../authz/render/gemini.js';
import { clip, MAX_EVENT_TEXT, firstSessionId, hostsOf, clipInput, isSessionId, jsonLine, relativeToWorktree, type AgentAdapter, type AgentEvent, type StreamParser } from './types.js';

/** Longest assistant message assembled from deltas, in characters (1 MiB: far above a real one, and a reviewer's verdict comes at its end). */
const MAX_MESSAGE_CHARS = 1024 * 1024;

/** Parser for Gemini CLI's stream-json output. */
export function geminiParser(worktree: string): StreamParser {
  const pending = new Map<string, { name: string; params: Record<string, unknown> }>();
  // The assistant's text of the current message, streamed in deltas: at most MAX_MESSAGE_CHARS kept, the
  // rest counted (a tool printing deltas without end would otherwise grow it until V8's string limit).
  let buffer = '';
  let bufferDropped = 0;
  let finalText: string | undefined;
  let finalTextLength: number | undefined;
  let reportedError = false;
  let errorText: string | undefined;
  let sawResult = false;
  let sessionId: string | undefined;
  const flush = (out: AgentEvent[]): void => {
    if (buffer.trim()) {
      out.push({ type: 'agent.message', payload: { text: clip(buffer, MAX_EVENT_TEXT, buffer.length + bufferDropped) } });
      finalText = buffer;
      finalTextLength = buffer.length + bufferDropped;
    }
    buffer = '';
    bufferDropped = 0;
  };
  return {
    line(text) {
      const msg = jsonLine(text);
      if (!msg) return [];
      const out: AgentEvent[] = [];
      switch (msg.type) {
        case 'init':
          sessionId = firstSessionId(sessionId, msg.session_id);
          break;
        case 'message':
          if (msg.role === 'assistant' && typeof msg.content === 'string') {
            if (msg.delta === true) {
              const room = MAX_MESSAGE_CHARS - buffer.length;
              if (msg.content.length > room) bufferDropped += msg.content.length - Math.max(0, room);
              if (room > 0) buffer += msg.content.slice(0, room);
            } else {
              flush(out);
              buffer = msg.content;
              flush(out);
            }
          }
          break;
        case 'tool_use': {
          flush(out);
          const params = (msg.parameters ?? {}) as Record<string, unknown>;
          pending.set(String(msg.tool_id), { name: String(msg.tool_name), params });
          const path = typeof params.file_path === 'string' ? relativeToWorktree(params.file_path, worktree) : undefined;
          out.push({ type: 'tool.called', payload: { id: String(msg.tool_id), tool: String(msg.tool_name), input: clipInput(params), ...(path ? { path } : {}) } });
          break;
        }
        case 'tool_result': {
          const id = String(msg.tool_id);
          const isError = msg.status !== 'success';
          const error = (msg.error ?? undefined) as { type?: string; message?: string } | undefined;
          out.push({ type: 'tool.result', payload: { id, isError, output: clip(String(msg.output ?? error?.message ?? ''), 2000) } });
          const call = pending.get(id);
          if (isError && error?.type === 'policy_violation' && call) {
            out.push({ type: 'permission.denied', payload: { tool: call.name, id, input: clipInput(call.params) } });
          }
          if (!isError && call && (GEMINI_WRITE_TOOLS as readonly string[]).includes(call.name) && typeof call.params.file_path === 'string') {
            out.push({ type: 'file.changed', payload: { path: relativeToWorktree(call.params.file_path, worktree), tool: call.name } });
          }
          pending.delete(id);
          break;
        }
        case 'error':
          flush(out);
          out.push({ type: 'agent.message', payload: { text: clip(String(msg.message ?? '')), severity: String(msg.severity ?? 'error') } });
          break;
        case 'result': {
          flush(out);
          sawResult = true;
          const stats = (msg.stats ?? {}) as Record<string, unknown>;
          out.push({
            type: 'agent.usage',
            payload: { inputTokens: Number(stats.input_tokens ?? 0), outputTokens: Number(stats.output_tokens ?? 0), costUsd: null, turns: null },
          });
          if (msg.status !== 'success') {
            reportedError = true;
            errorText = String((msg.error as { message?: string } | undefined)?.message ?? 'the model returned an invalid or blocked response');
          }
          break;
        }
        default:
          break;
      }
      return out;
    },
    finish() {
      if (!sawResult && !reportedError) return { finalText, finalTextLength, reportedError: true, errorText: 'the stream ended without a result event', sessionId };
      return { finalText, finalTextLength, reportedError, errorText, sessionId };
    },
  };
}

/** The Gemini CLI adapter. */
export const geminiAdapter: AgentAdapter = {
  name: 'gemini',
  requiredFiles: () => [],
  requiredPrograms: () => [],
  apiHosts: (env) => hostsOf(env.GOOGLE_GEMINI_BASE_URL, ['generativelanguage.googleapis.com']),
  credentialEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_GEMINI_BASE_URL'],
  render: renderGemini,
  canResume: true,
  launch({ prompt, settings, rendered, interactive, resume }) {
    const args = [...settings.args];
    if (!interactive && isSessionId(resume)) args.push('--resume', resume);
    if (!interactive) args.push('-p', prompt, '-o', 'stream-json');
    args.push(...(rendered?.args ?? []));
    if (settings.model) args.push('-m', settings.model);
    return { bin: settings.bin, args, env: { ...rendered?.env }, input: undefined };
  },
  parser: geminiParser,
};
