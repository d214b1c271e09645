/**
 * Typed events: a schema for every event type at its payload version, checked when a payload is
 * appended (real SQLite store) and when it is read (by its stored version, through the upgrade chain),
 * and writers with a renamed field that do not compile (test/fixtures/typed-events.ts, compiled by the last test).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { InternalError } from '../../src/core/errors.js';
import { PAYLOAD_SCHEMAS, UPGRADES, isEvent, payloadOf, readPayload, storedView, typed, type EventPayloads, type SchemaRegistry } from '../../src/evidence/eventSchemas.js';
import { EVENT_TYPES, type EventInput, type EventType, type StoredEvent } from '../../src/evidence/events.js';
import { openEventStore } from '../../src/evidence/store.js';
import { cleanup, tempDir } from '../helpers.js';
import { SAMPLES } from '../fixtures/eventSamples.js';

afterEach(cleanup);

const sha = 'a'.repeat(40);

const TYPES = Object.keys(EVENT_TYPES) as EventType[];
const subject = { runId: 'r1', task: 'fix', agent: 'claude', project: 'p', taskType: 'docs' };
const sample = <T extends EventType>(type: T): EventInput => ({ ...subject, type, payload: SAMPLES[type] }) as EventInput;

describe('event payload schemas', () => {
  it('every event type has a schema at its current payload version, and a sample here', () => {
    for (const t of TYPES) {
      expect(PAYLOAD_SCHEMAS[t]?.[EVENT_TYPES[t]], t).toBeDefined();
      expect(SAMPLES[t], t).toBeDefined();
    }
    expect(Object.keys(SAMPLES).sort()).toEqual([...TYPES].sort());
  });

  it('a payload of every type written through a real store reads back through payloadOf as written', () => {
    const file = join(tempDir(), 'agentctl.db');
    const store = openEventStore(file);
    store.append(TYPES.map(sample));
    store.close();
    const again = openEventStore(file);
    const events = again.query();
    again.close();
    expect(events.map((e) => e.type)).toEqual(TYPES);
    for (const e of events) {
      const type = e.type as EventType;
      expect(isEvent(e, type)).toBe(true);
      expect(payloadOf(e, type), type).toEqual(SAMPLES[type]);
      expect(typed(e).payload).toEqual(SAMPLES[type]);
    }
    expect(() => payloadOf(events[0]!, 'run.merged')).toThrow(/is run\.planned, not run\.merged/);
  });

  it('a renamed, missing, mistyped or unknown field is refused at append, naming the type and the field; nothing of the batch is written', () => {
    const store = openEventStore(join(tempDir(), 'agentctl.db'));
    store.append(sample('run.planned'));
    const { mergeSha, ...rest } = SAMPLES['run.merged'];
    const renamed = { ...subject, type: 'run.merged', payload: { ...rest, mergeSHA: mergeSha } } as unknown as EventInput;
    const bad = (events: EventInput[]) => {
      try {
        store.append(events);
      } catch (error) {
        expect(error).toBeInstanceOf(InternalError);
        return (error as Error).message;
      }
      throw new Error('appended');
    };
    const message = bad([sample('sandbox.created'), renamed]);
    expect(message).toMatch(/^event run\.merged has a bad payload: mergeSha: .*expected string.*; mergeSHA: unknown field; nothing was recorded$/);
    expect(bad([{ ...subject, type: 'sandbox.committed', payload: { ...SAMPLES['sandbox.committed'], files: [{ path: 'a', insertions: '3', deletions: 0 }] } } as unknown as EventInput])).toMatch(/files\[0\]\.insertions: .*expected number/);
    expect(bad([{ ...subject, type: 'review.agent_verdict', payload: { ...SAMPLES['review.agent_verdict'], verdict: 'maybe' } } as EventInput])).toMatch(/verdict: /);
    expect(bad([{ ...subject, type: 'no.such', payload: {} } as unknown as EventInput])).toMatch(/unknown event type no\.such/);
    expect(store.headSeq()).toBe(1);
    expect(store.query().map((e) => e.type)).toEqual(['run.planned']);
    store.close();
  });

  it('an old payload is read by its version: parsed by that version\'s schema, then upgraded step by step', () => {
    // A synthetic history for agent.handover: version 0 said `note`, version 1 says `text`.
    const schemas = { ...PAYLOAD_SCHEMAS, 'agent.handover': { 0: z.strictObject({ note: z.string() }), 1: PAYLOAD_SCHEMAS['agent.handover'][1]! } } as SchemaRegistry;
    const upgrades = { ...UPGRADES, 'agent.handover': { 0: (p: unknown) => ({ text: (p as { note: string }).note }) } };
    const registry = { schemas, upgrades };
    expect(readPayload('agent.handover', 0, { note: 'next: migrate' }, registry)).toEqual({ text: 'next: migrate' });
    expect(readPayload('agent.handover', 1, { text: 'now' }, registry)).toEqual({ text: 'now' });
    expect(() => readPayload('agent.handover', 0, { text: 'v1 shape under v0' }, registry)).toThrow(/payload version 0\) does not match its schema: note: /);
    expect(() => readPayload('agent.handover', 0, { note: 'x' }, { schemas, upgrades: UPGRADES })).toThrow(/version 0 has no upgrade to 1/);
    expect(() => readPayload('agent.handover', 2, { text: 'x' }, registry)).toThrow(/version 2, newer than this agentctl reads \(1\)/);
    expect(() => readPayload('agent.handover', 0, { note: 'x' })).toThrow(/version 0 has no schema/);
  });

  it('reading tolerates unknown keys (dropped) and fills in fields added to v1 later; any other mismatch throws', () => {
    const stored = (type: string, payload: Record<string, unknown>): StoredEvent => ({ seq: 9, key: 'k', ts: '2026-11-21T00:00:00.000Z', type, version: 1, payload, prevHash: '', hash: '' });
    // run.planned as the first version wrote it (no requestedBy, owner or sandbox).
    const { requestedBy, ownerPid, ownerStart, ownerHost, sandbox, ...first } = SAMPLES['run.planned'];
    expect([requestedBy, ownerPid, ownerStart, ownerHost, sandbox]).toEqual([null, 42, '123', 'laptop', 'os']);
    expect(payloadOf(stored('run.planned', first), 'run.planned')).toEqual({ ...first, requestedBy: null, ownerPid: 0, ownerStart: null, ownerHost: null, sandbox: 'none' });
    // policy.rendered between c78b448 and 3995bc0 carried `osSandbox`, since dropped.
    const { sandbox: s, sandboxSource, ...rendered } = SAMPLES['policy.rendered'];
    expect([s, sandboxSource]).toEqual(['os', 'default']);
    expect(payloadOf(stored('policy.rendered', { ...rendered, osSandbox: null }), 'policy.rendered')).toEqual(rendered);
    expect(payloadOf(stored('sandbox.committed', { headSha: sha, files: [{ path: 'a', insertions: 1, deletions: 0 }], insertions: 1, deletions: 0 }), 'sandbox.committed')).toEqual({ headSha: sha, files: [{ path: 'a', insertions: 1, deletions: 0 }], insertions: 1, deletions: 0, branchRepaired: null });
    expect(() => payloadOf(stored('run.merged', { ...SAMPLES['run.merged'], extra: 1, auto: 'yes' }), 'run.merged')).toThrow(InternalError);
    expect(() => payloadOf(stored('run.merged', { ...SAMPLES['run.merged'], extra: 1, auto: 'yes' }), 'run.merged')).toThrow(/^event 9: event run\.merged \(payload version 1\) does not match its schema: auto: .*; extra: unknown field$/);
    expect(() => typed(stored('no.such', {}))).toThrow(/unknown type no\.such/);
  });

  it('storedView types a current-version event without parsing it (the same object), skips an unknown type, and refuses a newer version', () => {
    const e: StoredEvent = { seq: 3, key: 'k', ts: '2026-11-21T00:00:00.000Z', type: 'run.merged', version: EVENT_TYPES['run.merged'], payload: { ...SAMPLES['run.merged'] }, prevHash: '', hash: '' };
    const view = storedView(e);
    expect(view).toBe(e);
    expect(view?.type === 'run.merged' && view.payload.mergeSha).toBe(SAMPLES['run.merged'].mergeSha);
    expect(storedView({ ...e, type: 'no.such' })).toBeUndefined();
    expect(() => storedView({ ...e, version: EVENT_TYPES['run.merged'] + 1 })).toThrow(/newer than this agentctl reads/);
  });

  it('a writer with a renamed, mistyped or missing payload field, or a reader of a renamed one, does not compile (test/fixtures/typed-events.ts, project options)', () => {
    const file = fileURLToPath(new URL('../fixtures/typed-events.ts', import.meta.url));
    let previous: ts.Program | undefined;
    const diagnostics = (text: string) => {
      const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noUncheckedIndexedAccess: true, esModuleInterop: true, skipLibCheck: true, noEmit: true, types: ['node'] };
      const host = ts.createCompilerHost(options);
      const read = host.readFile.bind(host);
      host.readFile = (f) => (f === file ? text : read(f));
      const program = ts.createProgram([file], options, host, previous);
      previous = program;
      return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName === file ? '' : `${d.file?.fileName}: `}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    };
    const source = readFileSync(file, 'utf8');
    // With the directives: no error anywhere (an unused directive would be one: TS2578).
    expect(diagnostics(source)).toEqual([]);
    const undirected = diagnostics(source.replace(/\/\/ @ts-expect-error .*\n/g, '\n'));
    expect(undirected).toHaveLength(5);
    expect(undirected[0]).toMatch(/'mergeSHA' does not exist/);
    expect(undirected[1]).toMatch(/"maybe"/);
    expect(undirected[2]).toMatch(/'note' does not exist/);
    expect(undirected[3]).toMatch(/'turns' is missing/);
    expect(undirected[4]).toMatch(/'mergeSHA' does not exist/);
  }, 120_000);
});
