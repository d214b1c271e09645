/**
 * Events a parser built from an agent's output are checked before they are recorded: one whose payload
 * breaks its schema is replaced by a warning, so the rest of the line's events and the run go on.
 */
import { describe, expect, it } from 'vitest';
import { admitAgentEvents, parseLine } from '../../src/adapters/admit.js';
import { claudeParser } from '../../src/adapters/claude.js';
import { clipInput, jsonLine, type AgentEvent } from '../../src/adapters/types.js';
import { MAX_JSON_DEPTH, canEncode, canonicalJson, parseRecordableJson } from '../../src/evidence/canonical.js';
import { checkPayload } from '../../src/evidence/eventSchemas.js';

describe('admitAgentEvents', () => {
  it('keeps valid events as they are and in order', () => {
    const events: AgentEvent[] = [
      { type: 'agent.message', payload: { text: 'hello' } },
      { type: 'agent.usage', payload: { inputTokens: 10, outputTokens: 2, costUsd: null, turns: 1 } },
    ];
    expect(admitAgentEvents(events)).toEqual(events);
  });

  it("a token count the tool printed as text becomes a warning naming the event and field, not the agent's value", () => {
    const parsed = claudeParser('/tmp/wt').line(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'ok', usage: { input_tokens: 'lots-SECRET', output_tokens: 3 }, num_turns: 1, permission_denials: [{ tool_name: 'Bash', tool_use_id: 't1', tool_input: { command: 'rm -rf /' } }] }));
    // The parser's event would make the store refuse the whole append.
    expect(() => checkPayload(parsed[0]!.type, parsed[0]!.payload)).toThrow(/inputTokens/);
    const admitted = admitAgentEvents(parsed);
    expect(admitted).toHaveLength(parsed.length);
    expect(admitted[0]).toMatchObject({ type: 'agent.message', payload: { severity: 'warning' } });
    const text = (admitted[0]!.payload as { text: string }).text;
    expect(text).toContain('agent.usage');
    expect(text).toContain('inputTokens');
    expect(text).not.toContain('SECRET');
    expect(admitted[1]).toEqual(parsed[1]);
    for (const e of admitted) expect(() => checkPayload(e.type, e.payload)).not.toThrow();
  });
});

describe('parseRecordableJson and canEncode', () => {
  it('JSON numbers beyond ±1.8e308 (they parse to ±Infinity) make the text unrecordable, anywhere in it', () => {
    expect(JSON.parse('{"a":1e400}')).toEqual({ a: Infinity });
    for (const text of ['1e400', '{"a":1e400}', '{"a":{"b":[1,-1e999]}}', '[0,1e309]']) expect(parseRecordableJson(text)).toBeUndefined();
    expect(parseRecordableJson('not json')).toBeUndefined();
    expect(parseRecordableJson('{"a":1.7e308,"b":[-0.5,"1e400"]}')).toEqual({ a: 1.7e308, b: [-0.5, '1e400'] });
    expect(parseRecordableJson('null')).toBeNull();
  });

  it('canEncode is false exactly where canonicalJson throws', () => {
    for (const v of [{ a: NaN }, [Infinity], { a: { b: 1n } }, { f: () => 1 }]) {
      expect(() => canonicalJson(v)).toThrow();
      expect(canEncode(v)).toBe(false);
    }
    for (const v of [{ a: 1, b: [null, 'x', { c: true }] }, 'x', 0, null]) expect(canEncode(v)).toBe(true);
  });

  it('a tool input holding Infinity becomes a warning', () => {
    const [admitted] = admitAgentEvents([{ type: 'tool.called', payload: { id: 't1', tool: 'Bash', input: { timeout: Infinity } } }]);
    expect(admitted).toMatchObject({ type: 'agent.message', payload: { severity: 'warning', text: expect.stringContaining('tool.called') } });
  });
});

describe('untrusted JSON and tool inputs have bounded depth', () => {
  const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

  it(`parseRecordableJson takes ${MAX_JSON_DEPTH} levels of nesting and refuses one more, and 20,000`, () => {
    expect(parseRecordableJson(nested(MAX_JSON_DEPTH))).toBeDefined();
    expect(parseRecordableJson(nested(MAX_JSON_DEPTH + 1))).toBeUndefined();
    expect(parseRecordableJson(`[${nested(20_000)}]`)).toBeUndefined();
    expect(() => jsonLine(nested(20_000))).toThrow(/deeper than 64 levels/);
    expect(() => jsonLine('{"a":[1e400]}')).toThrow(/beyond ±1.8e308/);
    expect(jsonLine('not json {')).toBeUndefined();
  });

  it('clipInput keeps 8 levels and 50 members of each object and array', () => {
    const deep = JSON.parse(nested(12)) as unknown;
    let v = clipInput(deep) as Record<string, unknown>;
    for (let i = 0; i < 8; i++) v = v.a as Record<string, unknown>;
    expect(v).toBe('[nested deeper]');
    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(clipInput(wide) as object)).toHaveLength(50);
    expect(clipInput(Array.from({ length: 500 }, () => 'x'))).toHaveLength(50);
    expect(canEncode(clipInput(JSON.parse(nested(5000))))).toBe(true);
  });

  it("a parser that throws costs the line, not the run: a warning with the line's length and the error, never the line", () => {
    const parser = { line: () => { throw new RangeError('Maximum call stack size exceeded'); }, finish: () => ({ finalText: '', reportedError: false, errorText: undefined, sessionId: undefined }) };
    const events = parseLine(parser as never, 'SECRET-LINE');
    expect(events).toEqual([{ type: 'agent.message', payload: { severity: 'warning', text: expect.stringContaining('(11 characters): Maximum call stack size exceeded') } }]);
    expect(JSON.stringify(events)).not.toContain('SECRET');
  });
});
