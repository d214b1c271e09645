/**
 * Events a parser built from an agent's output are checked before they are recorded: one whose payload
 * breaks its schema is replaced by a warning, so the rest of the line's events and the run go on.
 */
import { describe, expect, it } from 'vitest';
import { admitAgentEvents, OutputBudget, USAGE_SUM_MS, parseLine, type OutputEvent } from '../../src/adapters/admit.js';
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

describe('OutputBudget', () => {
  const msg = (text: string): OutputEvent => ({ type: 'agent.message', payload: { text } });
  const usage = (inputTokens: number, costUsd: number | null = null): OutputEvent => ({ type: 'agent.usage', payload: { inputTokens, outputTokens: 1, costUsd, turns: null } });
  const escalation: OutputEvent = { type: 'escalation.attempted', payload: { tool: 'Write', path: '.agentrc.yaml', rule: '.agentrc.yaml' } };

  it('records output events up to the cap and counts the rest by type; the warning names the counts', () => {
    const budget = new OutputBudget(() => 0, { output: 3, escalations: 10 });
    expect(budget.admit([msg('a'), msg('b')])).toEqual([msg('a'), msg('b')]);
    expect(budget.admit([msg('c'), msg('d'), { type: 'tool.called', payload: { tool: 'Bash', input: {}, path: null } } as OutputEvent])).toEqual([msg('c')]);
    expect(budget.admit([msg('e')])).toEqual([]);
    expect(budget.finish()).toEqual([{ type: 'agent.message', payload: { severity: 'warning', text: "agentctl recorded the first 3 events of the agent's output; counted, not recorded: 2 agent.message, 1 tool.called" } }]);
  });

  it('a usage report\'s negative numbers count as 0, under the cap and summed past it (a tool\'s "-1e6 USD" would lower the cost breaker\'s sum)', () => {
    const negative: OutputEvent = { type: 'agent.usage', payload: { inputTokens: -5, outputTokens: 3, costUsd: -1e6, turns: -1 } };
    const budget = new OutputBudget(() => 0, { output: 1, escalations: 1 });
    expect(budget.admit([negative])).toEqual([{ type: 'agent.usage', payload: { inputTokens: 0, outputTokens: 3, costUsd: 0, turns: 0 } }]);
    budget.admit([negative, usage(10, 2)]);
    expect(budget.finish()[0]).toEqual({ type: 'agent.usage', payload: { inputTokens: 10, outputTokens: 4, costUsd: 2, turns: 0 } });
  });

  it('under the cap, finish adds nothing', () => {
    const budget = new OutputBudget(() => 0, { output: 3, escalations: 1 });
    budget.admit([msg('a'), escalation]);
    expect(budget.finish()).toEqual([]);
  });

  it('escalation attempts have their own cap: a flood of messages does not hide them', () => {
    const budget = new OutputBudget(() => 0, { output: 1, escalations: 2 });
    expect(budget.admit([msg('a'), msg('b'), escalation])).toEqual([msg('a'), escalation]);
    expect(budget.admit([escalation, escalation])).toEqual([escalation]);
    expect((budget.finish()[0]!.payload as { text: string }).text).toBe("agentctl recorded the first 1 events of the agent's output and the first 2 escalation attempts; counted, not recorded: 1 agent.message, 1 escalation.attempted");
  });

  it('past the cap, usage is summed, not lost: one event per USAGE_SUM_MS while reports come, and the rest at the end', () => {
    let now = 0;
    const budget = new OutputBudget(() => now, { output: 1, escalations: 1 });
    expect(budget.admit([msg('a')])).toEqual([msg('a')]);
    expect(budget.admit([usage(10, 0.5)])).toEqual([]);
    now = USAGE_SUM_MS - 1;
    expect(budget.admit([usage(5, null), msg('b')])).toEqual([]);
    now = USAGE_SUM_MS;
    expect(budget.admit([usage(1, 0.25)])).toEqual([{ type: 'agent.usage', payload: { inputTokens: 16, outputTokens: 3, costUsd: 0.75, turns: null } }]);
    expect(budget.admit([usage(7)])).toEqual([]);
    const end = budget.finish();
    expect(end[0]).toEqual({ type: 'agent.usage', payload: { inputTokens: 7, outputTokens: 1, costUsd: null, turns: null } });
    expect((end[1]!.payload as { text: string }).text).toBe("agentctl recorded the first 1 events of the agent's output; counted, not recorded: 1 agent.message; 4 usage report(s) were recorded summed");
  });

  it('a sum of recordable numbers stays recordable (two of 1e308 do not make Infinity)', () => {
    const budget = new OutputBudget(() => 0, { output: 0, escalations: 0 });
    budget.admit([usage(1e308, 1e308), usage(1e308, 1e308), usage(-1e308)]);
    const [sum] = budget.finish();
    expect(sum!.type).toBe('agent.usage');
    expect(canEncode(sum!.payload)).toBe(true);
    expect(() => checkPayload(sum!.type, sum!.payload)).not.toThrow();
  });
});
