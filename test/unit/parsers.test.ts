import { describe, expect, it } from 'vitest';
import { claudeParser } from '../../src/adapters/claude.js';
import { codexParser } from '../../src/adapters/codex.js';
import { commandParser } from '../../src/adapters/command.js';
import { geminiParser } from '../../src/adapters/gemini.js';

const WT = '/w/t';
const feed = (parser: { line(l: string): { type: string; payload: Record<string, unknown> }[] }, lines: unknown[]) =>
  lines.flatMap((l) => parser.line(typeof l === 'string' ? l : JSON.stringify(l)));

describe('stream parsers', () => {
  it('Claude Code: tool calls, results, file edits, usage, denials and the final text', () => {
    const p = claudeParser(WT);
    const events = feed(p, [
      { type: 'system', subtype: 'init', session_id: 's' },
      'not json',
      { type: 'assistant', message: { content: [{ type: 'text', text: 'Working.' }, { type: 'tool_use', id: 't1', name: 'Edit', input: { file_path: `${WT}/src/a.ts`, old_string: 'a', new_string: 'b' } }] } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'ok' }] }] } },
      { type: 'assistant', message: { content: [{ type: 'tool_use', id: 't2', name: 'Write', input: { file_path: `${WT}/.env` } }] } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't2', content: 'denied', is_error: true }] } },
      { type: 'result', subtype: 'success', is_error: false, result: 'All done', total_cost_usd: 0.5, usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 5 }, permission_denials: [{ tool_name: 'Write', tool_use_id: 't2', tool_input: { file_path: `${WT}/.env` } }] },
    ]);
    expect(events.map((e) => e.type)).toEqual(['agent.message', 'tool.called', 'tool.result', 'file.changed', 'tool.called', 'tool.result', 'agent.usage', 'permission.denied']);
    expect(events[3]!.payload).toMatchObject({ path: 'src/a.ts', tool: 'Edit' });
    expect(events[6]!.payload).toMatchObject({ inputTokens: 15, outputTokens: 20, costUsd: 0.5 });
    expect(p.finish()).toEqual({ finalText: 'All done', reportedError: false, errorText: undefined, sessionId: 's' });
  });

  it('Claude Code: error subtypes fail even with is_error false; a missing result fails', () => {
    const p = claudeParser(WT);
    feed(p, [{ type: 'result', subtype: 'error_max_turns', is_error: false, errors: ['max turns'] }]);
    expect(p.finish()).toMatchObject({ reportedError: true, errorText: 'max turns' });
    expect(claudeParser(WT).finish().reportedError).toBe(true);
  });

  it('Gemini CLI: joins deltas, maps policy violations to denials, fails on result status error', () => {
    const p = geminiParser(WT);
    const events = feed(p, [
      { type: 'init', session_id: 's', model: 'm' },
      { type: 'message', role: 'user', content: 'prompt' },
      { type: 'message', role: 'assistant', content: 'Hel', delta: true },
      { type: 'message', role: 'assistant', content: 'lo', delta: true },
      { type: 'tool_use', tool_name: 'write_file', tool_id: 'w1', parameters: { file_path: 'docs/a.md', content: 'x' } },
      { type: 'tool_result', tool_id: 'w1', status: 'success' },
      { type: 'tool_use', tool_name: 'run_shell_command', tool_id: 's1', parameters: { command: 'rm -rf /' } },
      { type: 'tool_result', tool_id: 's1', status: 'error', error: { type: 'policy_violation', message: 'denied' } },
      { type: 'result', status: 'error', stats: { input_tokens: 3, output_tokens: 4 } },
    ]);
    expect(events.map((e) => e.type)).toEqual(['agent.message', 'tool.called', 'tool.result', 'file.changed', 'tool.called', 'tool.result', 'permission.denied', 'agent.usage']);
    expect(events[0]!.payload.text).toBe('Hello');
    expect(p.finish()).toMatchObject({ reportedError: true, finalText: 'Hello' });
  });

  it('Codex: commands, file changes, usage and turn.failed', () => {
    const p = codexParser(WT);
    const events = feed(p, [
      { type: 'thread.started', thread_id: 'x' },
      { type: 'item.started', item: { id: 'i1', type: 'command_execution', command: "bash -lc 'ls'", status: 'in_progress' } },
      { type: 'item.completed', item: { id: 'i1', type: 'command_execution', command: "bash -lc 'ls'", aggregated_output: 'a\n', exit_code: 0, status: 'completed' } },
      { type: 'item.completed', item: { id: 'i2', type: 'file_change', changes: [{ path: `${WT}/src/x.ts`, kind: 'add' }], status: 'completed' } },
      { type: 'item.completed', item: { id: 'i3', type: 'agent_message', text: 'Finished' } },
      { type: 'turn.completed', usage: { input_tokens: 300, cached_input_tokens: 100, output_tokens: 60 } },
    ]);
    expect(events.map((e) => e.type)).toEqual(['tool.called', 'tool.result', 'file.changed', 'agent.message', 'agent.usage']);
    expect(events[2]!.payload).toMatchObject({ path: 'src/x.ts', kind: 'add' });
    expect(p.finish()).toEqual({ finalText: 'Finished', reportedError: false, errorText: undefined, sessionId: 'x' });
    const failed = codexParser(WT);
    feed(failed, [{ type: 'turn.failed', error: { message: '401' } }]);
    expect(failed.finish()).toMatchObject({ reportedError: true, errorText: '401' });
  });

  it('command: one message per non-empty line, the last is the summary', () => {
    const p = commandParser();
    expect(feed(p, ['one', '', 'two'])).toHaveLength(2);
    expect(p.finish().finalText).toBe('two');
  });
});

describe('gemini parser: a message streamed in deltas without end', () => {
  it('keeps 1 MiB of it and counts the rest: the message event and the summary say how long it was', () => {
    const p = geminiParser('/tmp/wt');
    const delta = 'a'.repeat(100_000);
    for (let i = 0; i < 40; i++) expect(p.line(JSON.stringify({ type: 'message', role: 'assistant', content: delta, delta: true }))).toEqual([]);
    const [message] = p.line(JSON.stringify({ type: 'result', status: 'success', stats: {} }));
    expect(message).toEqual({ type: 'agent.message', payload: { text: `${'a'.repeat(4000)}… [3996000 more characters]` } });
    const summary = p.finish();
    expect(summary.finalText).toHaveLength(1024 * 1024);
    expect(summary.finalTextLength).toBe(4_000_000);
  });
});
