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
import { PAYLOAD_SCHEMAS, UPGRADES, isEvent, payloadOf, readPayload, typed, type EventPayloads, type SchemaRegistry } from '../../src/evidence/eventSchemas.js';
import { EVENT_TYPES, type EventInput, type EventType, type StoredEvent } from '../../src/evidence/events.js';
import { openEventStore } from '../../src/evidence/store.js';
import { cleanup, tempDir } from '../helpers.js';

afterEach(cleanup);

const sha = 'a'.repeat(40);
const ended = { exitCode: 0, signal: null, timedOut: false, durationMs: 1200 };
const evidence = { runs: 3, merged: 3, mergeRate: 1 };

/** One payload of every type, shaped as its writer writes it (src/orchestrator, src/adapters). */
const SAMPLES: { [T in EventType]: EventPayloads[T] } = {
  'run.planned': { title: 'Fix', taskFile: 'tasks/fix.md', requestedBy: null, requested: 'review', effective: 'review', reasons: ['requested review'], profiles: ['implement'], claim: false, repoRoot: '/repo', baseBranch: 'main', baseSha: sha, gate: 'npm test', timeoutMs: null, sandbox: 'os', ownerPid: 42, ownerStart: '123' },
  'sandbox.created': { path: '/wt', branch: 'agentctl/fix/r1', baseSha: sha, gitDir: '/repo/.git/worktrees/r1' },
  'policy.rendered': { tool: 'claude', files: ['/run/settings.json'], args: ['--settings', 'x'], sandbox: 'os', sandboxSource: 'default', policy: { profiles: ['implement'], yolo: false } },
  'agent.launched': { bin: 'claude', args: ['-p', '<prompt>'], interactive: false, timeoutMs: 60_000, pid: 4242, pidStart: '99', sandbox: 'os' },
  'agent.message': { text: 'thinking', kind: 'reasoning' },
  'tool.called': { id: 'toolu_1', tool: 'Edit', input: { file_path: 'src/a.ts', old_string: 'a' }, path: 'src/a.ts' },
  'tool.result': { id: 'toolu_1', isError: false, output: 'ok', exitCode: 0 },
  'permission.denied': { tool: 'Bash', id: 'toolu_2', input: { command: 'curl x' } },
  'file.changed': { path: 'src/a.ts', tool: 'apply_patch', kind: 'update' },
  'agent.usage': { inputTokens: 100, outputTokens: 20, costUsd: 0.01, turns: 2 },
  'agent.exited': { ...ended, interrupted: false, stoppedBy: { kind: 'escalated', reason: 'asked' }, summary: 'done', error: null, sessionId: '0b9c3c8e-session' },
  'sandbox.committed': { headSha: sha, files: [{ path: 'src/a.ts', insertions: 3, deletions: -1, bytes: 120, mode: '100644' }], insertions: 3, deletions: 0, bytes: 120, branchRepaired: { from: null } },
  'scope.violation': { path: '.github/x.yml', reason: 'outside the write scope', protected: true },
  'gate.passed': { command: 'npm test', exitCode: 0, timedOut: false, durationMs: 900, output: 'ok', sandbox: 'os' },
  'gate.failed': { command: 'npm test', exitCode: null, timedOut: true, durationMs: 900, output: '', sandbox: 'none' },
  'run.decided': { outcome: 'review', reasons: ['earned level is review'] },
  'run.failed': { step: 'setup', error: 'exited 1' },
  'run.interrupted': { reason: 'agentctl stopped', recovered: true, killedAgent: false },
  'review.approved': { by: 'dev', host: 'laptop', note: null },
  'review.rejected': { by: 'dev', host: 'laptop', reason: 'wrong' },
  'run.merged': { mergeSha: sha, baseBranch: 'main', by: 'dev', host: 'laptop', auto: false, strategy: 'rebase' },
  'run.discarded': { by: 'dev', host: 'laptop', reason: null, archiveRef: 'refs/agentctl/archive/r1', headSha: sha },
  'sandbox.removed': { path: '/wt', reason: 'folder missing', branchKept: null },
  'trust.promoted': { agent: 'claude', project: 'p', taskType: 'docs', from: 'review', to: 'auto', by: 'dev', host: 'laptop', evidence, note: null, forced: true, missing: ['needs 10 merged runs'] },
  'trust.demoted': { agent: 'claude', project: 'p', taskType: 'docs', from: 'auto', to: 'review', by: 'dev', host: 'laptop', evidence, reason: 'regressed' },
  'escalation.attempted': { kind: 'git-control', tool: 'git', path: 'config', changes: [{ path: 'config', change: 'modified', detail: 'core.hooksPath' }], restored: true },
  'regression.detected': { kind: 'revert', commit: sha, subject: 'Revert "x"' },
  'review.followup': { commit: sha, subject: 'fixup', files: ['src/a.ts'] },
  'breaker.tripped': { breaker: 'cost', agent: 'claude', project: 'p', reason: '$2 spent' },
  'merge.failed': { reason: 'conflict', auto: true },
  'sandbox.restored': { path: '/wt', branch: 'agentctl/fix/r1', headSha: sha, gitDir: '/repo/.git/worktrees/r1' },
  'gc.repaired': { kind: 'orphan-branch', branch: 'agentctl/fix/r1', archiveRef: 'refs/agentctl/archive/r1' },
  'breaker.reset': { breaker: 'volume', agent: 'claude', project: 'p', by: 'dev', host: 'laptop', note: 'checked' },
  'agent.stragglers': { killed: 2, pids: [11, 12] },
  'system.halted': { by: 'dev', host: 'laptop', reason: 'stop' },
  'system.resumed': { by: 'dev', host: 'laptop', note: null },
  'notification.failed': { target: 'hook.sh', kind: 'escalation', error: 'exit 1', eventSeq: 3 },
  'audit.sampled': { probability: 0.1, roll: 0.05, changedLines: 10, sensitive: false },
  'audit.agreed': { by: 'dev', host: 'laptop', note: null },
  'audit.disagreed': { by: 'dev', host: 'laptop', note: 'missed a case' },
  'agent.status': { status: 'running tests', anything: [1, { deep: true }] },
  'agent.reasoning': { observed: 'x', considered: ['a', 'b'], decided: null, confidence: 0.4, invalid: 'not json' },
  'agent.escalated': { source: 'agent', reason: 'unsure', question: { what: 'which API?' } },
  'agent.handover': { text: 'next: run the migration' },
  'task.requested': { id: 'follow-1', title: 'Docs', extra: 7, parentRun: 'r1', parentTask: 'fix', parentProfiles: ['implement'] },
  'review.agent_verdict': { reviewer: 'gemini', verdict: 'approve', comments: 'VERDICT: approve', exitCode: 0, timedOut: false },
  'worktree.bootstrapped': { linked: ['node_modules'], copied: ['.env.test'], skipped: [], missing: [], ports: { first: 41000, count: 10 }, setup: ['npm ci'], teardown: [], network: ['registry.npmjs.org'] },
  'setup.started': { command: 'npm ci', index: 0, of: 1, network: null, sandbox: 'os' },
  'setup.finished': { command: 'npm ci', index: 0, ...ended, output: 'added 3 packages' },
  'teardown.started': { command: 'docker compose down', index: 0, of: 1, sandbox: 'none' },
  'teardown.finished': { command: 'docker compose down', index: 0, exitCode: null, error: 'not run: the task is gone' },
  'review.changes_requested': { attempt: 2, note: 'cover the empty case', by: 'dev', host: 'laptop', diffChars: 120 },
  'run.attempt_started': { attempt: 2, resume: 'b7f1c2d0-session', effective: 'review', reasons: ['changes were requested'], profiles: ['implement'], sandbox: 'os', ownerPid: 4242, ownerStart: '12345' },
};

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
    const { requestedBy, ownerPid, ownerStart, sandbox, ...first } = SAMPLES['run.planned'];
    expect([requestedBy, ownerPid, ownerStart, sandbox]).toEqual([null, 42, '123', 'os']);
    expect(payloadOf(stored('run.planned', first), 'run.planned')).toEqual({ ...first, requestedBy: null, ownerPid: 0, ownerStart: null, sandbox: 'none' });
    // policy.rendered between c78b448 and 3995bc0 carried `osSandbox`, since dropped.
    const { sandbox: s, sandboxSource, ...rendered } = SAMPLES['policy.rendered'];
    expect([s, sandboxSource]).toEqual(['os', 'default']);
    expect(payloadOf(stored('policy.rendered', { ...rendered, osSandbox: null }), 'policy.rendered')).toEqual(rendered);
    expect(payloadOf(stored('sandbox.committed', { headSha: sha, files: [{ path: 'a', insertions: 1, deletions: 0 }], insertions: 1, deletions: 0 }), 'sandbox.committed')).toEqual({ headSha: sha, files: [{ path: 'a', insertions: 1, deletions: 0 }], insertions: 1, deletions: 0, branchRepaired: null });
    expect(() => payloadOf(stored('run.merged', { ...SAMPLES['run.merged'], extra: 1, auto: 'yes' }), 'run.merged')).toThrow(InternalError);
    expect(() => payloadOf(stored('run.merged', { ...SAMPLES['run.merged'], extra: 1, auto: 'yes' }), 'run.merged')).toThrow(/^event 9: event run\.merged \(payload version 1\) does not match its schema: auto: .*; extra: unknown field$/);
    expect(() => typed(stored('no.such', {}))).toThrow(/unknown type no\.such/);
  });

  it('a writer with a renamed, mistyped or missing payload field does not compile (test/fixtures/typed-events.ts, project options)', () => {
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
    expect(undirected).toHaveLength(4);
    expect(undirected[0]).toMatch(/'mergeSHA' does not exist/);
    expect(undirected[1]).toMatch(/"maybe"/);
    expect(undirected[2]).toMatch(/'note' does not exist/);
    expect(undirected[3]).toMatch(/'turns' is missing/);
  }, 120_000);
});
