import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decidePath, decideCommand } from '../../src/authz/check.js';
import { composePolicy, intersectPolicies } from '../../src/authz/policy.js';
import { parseProfile, type Profile } from '../../src/authz/profile.js';
import type { StoredEvent } from '../../src/evidence/events.js';
import { auditProbability, evaluateBreakers, projectControls, volumeNormOf, type BreakerConfig, type Controls } from '../../src/evidence/projections/breakers.js';
import { MAX_PROTOCOL_LINE_CHARS, newJsonLines } from '../../src/orchestrator/protocol.js';
import { parseVerdict } from '../../src/orchestrator/reviewAsk.js';
import { ROOT } from '../helpers.js';

const profiles = new Map<string, Profile>();
for (const f of readdirSync(join(ROOT, 'profiles'))) profiles.set(f.replace('.yaml', ''), parseProfile(f.replace('.yaml', ''), f, readFileSync(join(ROOT, 'profiles', f), 'utf8'), 'builtin'));
const policyOf = (names: string[]) => composePolicy({ id: 't', file: 't.md', profiles: names, paths: ['docs/**'], autonomy: 'review' }, profiles, { tasksDir: 'tasks', profilesDir: '.agentctl/profiles' });

describe('follow-up policy intersection', () => {
  it('a child requesting yolo under an implement parent gets exactly implement', () => {
    const child = intersectPolicies(policyOf(['yolo']), policyOf(['implement']));
    const implement = policyOf(['implement']);
    for (const path of ['src/a.ts', 'Makefile', '.env', 'tasks/x.md', 'docs/a.md', 'notes/x.txt', '.github/w.yml']) {
      expect(decidePath(child, 'write', path).allowed, path).toBe(decidePath(implement, 'write', path).allowed);
    }
    for (const cmd of ['npm test', 'curl x', 'rm -rf /', 'git push']) expect(decideCommand(child, cmd).allowed, cmd).toBe(decideCommand(implement, cmd).allowed);
    expect(child).toMatchObject({ yolo: false, network: { value: false } });
  });

  it('never grants what either side denies', () => {
    const child = intersectPolicies(policyOf(['implement']), policyOf(['careful']));
    expect(decidePath(child, 'write', 'src/a.ts').allowed).toBe(false); // careful narrows to docs/**
    expect(decidePath(child, 'write', 'docs/a.md').allowed).toBe(true);
  });
});

describe('audit sampling', () => {
  it('weights by risk: a typical diff (50 lines) is sampled at the base rate, bigger diffs and sensitive paths more, within [0, 1]', () => {
    expect(auditProbability(0.1, 50, false)).toBeCloseTo(0.1, 15); // weight 1: exactly the base rate
    expect(auditProbability(0.25, 50, false)).toBeCloseTo(0.25, 15);
    expect(auditProbability(0.1, 5, false)).toBeCloseTo(1 - Math.sqrt(0.9)); // ≈ 0.051
    expect(auditProbability(0.1, 800, false)).toBeCloseTo(1 - 0.9 ** 3); // ≈ 0.271
    expect(auditProbability(0.1, 50, true)).toBeCloseTo(0.19);
    expect(auditProbability(1, 1, false)).toBe(1); // a rate of 1 audits everything
    expect(auditProbability(0, 10_000, true)).toBe(0);
  });
});

let seq = 0;
const ev = (type: string, payload: Record<string, unknown>, minutesAgo: number, extra: Partial<StoredEvent> = {}): StoredEvent => ({
  seq: ++seq, key: String(seq), ts: new Date(Date.UTC(2026, 5, 1, 12) - minutesAgo * 60_000).toISOString(), type, version: 1, payload, prevHash: '', hash: '', agent: 'claude', project: 'p', runId: `r${seq}`, ...extra,
});
const NOW = Date.UTC(2026, 5, 1, 12);
/** The breakers over `events`, which cover the norm's 8 days here: its norm from them (volumeNormOf). */
const evaluateWithNorm = (events: StoredEvent[], controls: Controls, cfg: BreakerConfig, agent: string) => evaluateBreakers(events, controls, cfg, agent, 'p', NOW, volumeNormOf(events, agent, 'p', NOW));
const cfg = { volume: { runsPerHour: 3, linesPerHour: 100, bytesPerHour: 1000, normFactor: 2 }, cost: { usdPerDay: 1, tokensPerDay: 1000 }, errors: { windowMinutes: 30, maxFailures: 2 }, scope: { enabled: true } };

describe('breakers', () => {
  it('count only inside their windows and only after the last reset', () => {
    const events = [ev('run.planned', {}, 10), ev('run.planned', {}, 20), ev('run.planned', {}, 30), ev('run.planned', {}, 90)];
    expect(evaluateWithNorm(events, projectControls([]), cfg, 'claude')).toEqual([]);
    const more = [...events, ev('run.planned', {}, 5)];
    expect(evaluateWithNorm(more, projectControls([]), cfg, 'claude').map((t) => t.breaker)).toEqual(['volume']);
    const reset = ev('breaker.reset', { breaker: 'volume', agent: 'claude', project: 'p', by: 'me', note: null }, 1);
    expect(evaluateWithNorm([...more, reset], projectControls([reset]), cfg, 'claude')).toEqual([]);
    expect(evaluateWithNorm(more, projectControls([]), cfg, 'gemini')).toEqual([]);
  });

  it('volume is judged against the agent\'s norm: a busy agent gets a higher limit', () => {
    const busyHistory = Array.from({ length: 8 }, (_, i) => ev('run.planned', {}, 150 + i)); // 8 runs in one earlier active hour
    const lastHour = Array.from({ length: 10 }, (_, i) => ev('run.planned', {}, 5 + i));
    expect(evaluateWithNorm(lastHour, projectControls([]), cfg, 'claude').map((t) => t.breaker)).toEqual(['volume']);
    expect(evaluateWithNorm([...busyHistory, ...lastHour], projectControls([]), cfg, 'claude')).toEqual([]); // limit 2 × 8 = 16
    const spike = [...busyHistory, ...lastHour, ...Array.from({ length: 8 }, (_, i) => ev('run.planned', {}, 1 + i / 10))];
    expect(evaluateWithNorm(spike, projectControls([]), cfg, 'claude')[0]?.reason).toMatch(/18 runs in the last hour \(limit 16/);
  });

  it('cost, errors and scope trip on their own thresholds; a tripped breaker is not repeated', () => {
    const usage = { inputTokens: 10, outputTokens: 10, costUsd: 0.6, turns: 1 };
    const events = [ev('agent.usage', usage, 60), ev('agent.usage', usage, 600), ev('gate.failed', {}, 5), ev('run.discarded', {}, 6), ev('run.failed', {}, 7), ev('scope.violation', { path: 'x', reason: 'outside the write scope', protected: false }, 100)];
    const trips = evaluateWithNorm(events, projectControls([]), cfg, 'claude');
    expect(trips.map((t) => t.breaker).sort()).toEqual(['cost', 'errors', 'scope']);
    const tripped = trips.map((t) => ev('breaker.tripped', { breaker: t.breaker, agent: 'claude', project: 'p', reason: t.reason }, 0));
    expect(evaluateWithNorm(events, projectControls(tripped), cfg, 'claude')).toEqual([]);
  });

  it('volume trips on changed bytes too: a large binary is 0 lines; a forged negative count lowers nothing', () => {
    const committed = (counts: { insertions: number; deletions: number; bytes: number }) => ({ headSha: 'a'.repeat(40), files: [], branchRepaired: null, ...counts });
    const binary = [ev('sandbox.committed', committed({ insertions: 0, deletions: 0, bytes: 60_000_000 }), 10)];
    expect(evaluateWithNorm(binary, projectControls([]), cfg, 'claude')[0]?.reason).toMatch(/^60000000 changed bytes in the last hour \(limit 1000/);
    expect(evaluateWithNorm([ev('sandbox.committed', committed({ insertions: 0, deletions: 0, bytes: 900 }), 10)], projectControls([]), cfg, 'claude')).toEqual([]);
    expect(evaluateWithNorm([...binary, ev('sandbox.committed', committed({ bytes: -1e12, insertions: -1e9, deletions: 0 }), 5)], projectControls([]), cfg, 'claude').map((t) => t.breaker)).toEqual(['volume']);
  });

  it('halt and resume fold into the kill switch state', () => {
    expect(projectControls([ev('system.halted', { by: 'me', reason: 'x' }, 2)]).halted).toMatchObject({ by: 'me' });
    expect(projectControls([ev('system.halted', { by: 'me', reason: 'x' }, 2), ev('system.resumed', {}, 1)]).halted).toBeUndefined();
  });
});

describe('protocol parsing', () => {
  it('reads only new JSON lines and keeps malformed ones visible', () => {
    const first = newJsonLines('{"a":1}\n{"b":2}\n', 0);
    expect(first).toEqual({ items: [{ a: 1 }, { b: 2 }], total: 2 });
    expect(newJsonLines('{"a":1}\n{"b":2}\nnot json\n', first.total)).toEqual({ items: [{ invalid: 'not json' }], total: 3 });
  });

  it('while the agent runs, a last line without its newline is left for the next read (the agent may be writing it); once it has exited, it is read', () => {
    const partial = newJsonLines('{"a":1}\n{"b":', 0, false);
    expect(partial).toEqual({ items: [{ a: 1 }], total: 1 });
    expect(newJsonLines('{"a":1}\n{"b":2}\n', partial.total, false)).toEqual({ items: [{ b: 2 }], total: 2 });
    expect(newJsonLines('{"a":1}\n{"b":2}', 1, true)).toEqual({ items: [{ b: 2 }], total: 2 });
    expect(newJsonLines('{"b":', 0, false)).toEqual({ items: [], total: 0 });
  });

  it('a line longer than MAX_PROTOCOL_LINE_CHARS is recorded as invalid, its first 500 characters kept', () => {
    const at = `{"status":"${'x'.repeat(MAX_PROTOCOL_LINE_CHARS - 13)}"}`;
    const over = `{"status":"${'y'.repeat(MAX_PROTOCOL_LINE_CHARS)}"}`;
    expect(at.length).toBe(MAX_PROTOCOL_LINE_CHARS);
    const { items } = newJsonLines(`${at}\n${over}\n`, 0);
    expect(items[0]).toEqual(JSON.parse(at));
    expect(items[1]).toEqual({ invalid: over.slice(0, 500) });
  });

  it('parses the last reviewer verdict', () => {
    expect(parseVerdict('VERDICT: approve ... on second thought VERDICT: Reject')).toBe('reject');
    expect(parseVerdict('no verdict')).toBe('none');
  });
});
