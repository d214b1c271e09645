/**
 * The breakers' windowed inputs (orchestrator/breakerWindow.ts) on a real SQLite log whose event times
 * spread over 10 days, out of order by up to 50 minutes: the volume norm from the hourly activity
 * projection plus the events at its ends equals the norm from a week of events, and every breaker
 * decides as it would from the whole log.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { breakerStatus, emptyControls, volumeNormOf, type BreakerConfig } from '../src/evidence/projections/breakers.js';
import { paging } from '../src/evidence/projectionSync.js';
import { openEventStore } from '../src/evidence/store.js';
import { breakerInputs } from '../src/orchestrator/breakerWindow.js';
import { cleanup, tempDir } from './helpers.js';
import { eventOf } from './support/projectionHistory.js';

const defaultPage = paging.events;
afterEach(() => {
  paging.events = defaultPage;
  cleanup();
});

const MIN = 60_000;
const AGENTS = ['claude', 'gemini'] as const;
const config = (errorsWindowMinutes: number): BreakerConfig => ({
  // Low floors, so the norm decides the volume limit.
  volume: { runsPerHour: 1, linesPerHour: 1, bytesPerHour: 1, normFactor: 1.5 },
  cost: { usdPerDay: 0.5, tokensPerDay: 200 },
  errors: { windowMinutes: errorsWindowMinutes, maxFailures: 2 },
  scope: { enabled: true },
});

/**
 * A real log with `n` events of project p, agent claude, one every 50 minutes from 2026-11-01 (each
 * appended at its own time), of the kind `kindOf(i)` gives; `nowMs` is 10 minutes after the last.
 */
function everyFiftyMinutes(n: number, kindOf: (i: number) => 'run.planned' | 'sandbox.committed') {
  let clock = Date.UTC(2026, 10, 1);
  const store = openEventStore(join(tempDir(), 'agentctl.db'), { now: () => new Date(clock) });
  for (let i = 0; i < n; i++) {
    clock += 50 * MIN;
    store.append(eventOf({ run: i, project: 'p', agent: 'claude', taskType: 'docs', kind: kindOf(i), n: 3 }));
  }
  return { store, nowMs: clock + 10 * MIN };
}

const item = fc.record({
  agent: fc.constantFrom(...AGENTS),
  project: fc.constantFrom('p', 'p', 'p', 'q'),
  kind: fc.constantFrom('run.planned', 'run.planned', 'sandbox.committed', 'sandbox.committed', 'agent.usage', 'gate.failed', 'run.failed', 'scope.violation', 'agent.exited'),
  gapMin: fc.nat(300),
  jitterMin: fc.integer({ min: -50, max: 50 }),
  n: fc.nat(5),
});

describe('breaker window', () => {
  it('norm from hourly rows + edge events == norm from every event, and the same breakers trip (property)', () => {
    let split = 0;
    fc.assert(
      fc.property(fc.array(item, { minLength: 60, maxLength: 200, size: 'max' }), fc.constantFrom(60, 600, 12 * 24 * 60), fc.nat(12 * 60), fc.integer({ min: 3, max: 40 }), (items, errorsWindow, tailMin, page) => {
        paging.events = page;
        let clock = Date.UTC(2026, 10, 1);
        const start = clock;
        const store = openEventStore(join(tempDir(), 'agentctl.db'), { now: () => new Date(clock) });
        try {
          let t = start;
          items.forEach((it, i) => {
            t += it.gapMin * MIN;
            clock = t + it.jitterMin * MIN;
            store.append(eventOf({ run: i, project: it.project as 'p', agent: it.agent, taskType: 'docs', kind: it.kind as 'run.planned', n: it.n }));
            // A read mid-way saves the projection; later reads add the events since (or fold them when many).
            if (i === items.length >> 1) breakerInputs(store, 'p', config(60), emptyControls(), AGENTS, t);
          });
          const nowMs = t + tailMin * MIN;
          const all = store.query();
          const cfg = config(errorsWindow);
          const inputs = breakerInputs(store, 'p', cfg, emptyControls(), AGENTS, nowMs);
          if (nowMs - start > 8 * 24 * 60 * MIN && errorsWindow < 8 * 24 * 60) split++;
          for (const agent of AGENTS) expect(inputs.norms.get(agent)).toEqual(volumeNormOf(all, agent, 'p', nowMs));
          const mine = all.filter((e) => e.project === 'p');
          const rawNorms = new Map(AGENTS.map((a) => [a, volumeNormOf(mine, a, 'p', nowMs)]));
          expect(breakerStatus(inputs.events, emptyControls(), cfg, AGENTS, 'p', nowMs, inputs.norms)).toEqual(breakerStatus(mine, emptyControls(), cfg, AGENTS, 'p', nowMs, rawNorms));
        } finally {
          store.close();
        }
      }),
      // No shrinking: each case is a real log; the first failing case is reported as found.
      { numRuns: 60, seed: 21, endOnFailure: true },
    );
    // Histories longer than the norm's 8 days, where rows replace events, were among those checked.
    expect(split).toBeGreaterThan(5);
  });

  it('a read a few events behind the projection takes no write and still counts those events (an old time included)', () => {
    const { store, nowMs } = everyFiftyMinutes(300, (i) => (i % 3 ? 'run.planned' : 'sandbox.committed'));
    try {
      breakerInputs(store, 'p', config(60), emptyControls(), ['claude'], nowMs);
      const head = store.projections().reader('activity:p').head();
      // A run planned 5 days ago (an event that sets its own time, as `store migrate` appends them) and a committed diff now.
      store.append({ ...eventOf({ run: 900, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.planned', n: 1 }), ts: new Date(nowMs - 5 * 24 * 60 * MIN).toISOString() });
      store.append(eventOf({ run: 901, project: 'p', agent: 'claude', taskType: 'docs', kind: 'sandbox.committed', n: 4 }));
      const inputs = breakerInputs(store, 'p', config(60), emptyControls(), ['claude'], nowMs);
      expect(store.projections().reader('activity:p').head()).toEqual(head);
      expect(inputs.norms.get('claude')).toEqual(volumeNormOf(store.query(), 'claude', 'p', nowMs));
    } finally {
      store.close();
    }
  });

  it('an hourly row edited in the database is not believed: the projection is folded again and the norm stays right', () => {
    const { store, nowMs } = everyFiftyMinutes(200, () => 'run.planned');
    try {
      const honest = breakerInputs(store, 'p', config(60), emptyControls(), ['claude'], nowMs).norms.get('claude');
      expect(honest).toEqual(volumeNormOf(store.query(), 'claude', 'p', nowMs));
      store.db.prepare("UPDATE projection_rows SET value = json_set(value, '$.runs', 999) WHERE name = 'activity:p'").run();
      expect(breakerInputs(store, 'p', config(60), emptyControls(), ['claude'], nowMs).norms.get('claude')).toEqual(honest);
    } finally {
      store.close();
    }
  });

  it('reads hourly rows, not a week of events: a week of 2,000 runs costs the last day’s events', () => {
    const clock = { ms: Date.UTC(2026, 10, 1) };
    const store = openEventStore(join(tempDir(), 'agentctl.db'), { now: () => new Date(clock.ms) });
    try {
      const batch = [];
      for (let i = 0; i < 2000; i++) {
        // 10 days of runs, one every 7.2 minutes: appended in batches with the batch's time.
        batch.push(eventOf({ run: i, project: 'p', agent: 'claude', taskType: 'docs', kind: 'run.planned', n: 1 }));
        if (batch.length === 20) {
          store.append(batch.splice(0));
          clock.ms += 144 * MIN;
        }
      }
      const counting = { ...store, query: (q?: Parameters<typeof store.query>[0]) => {
        const out = store.query(q);
        read += out.length;
        return out;
      } };
      let read = 0;
      const inputs = breakerInputs(counting, 'p', config(60), emptyControls(), ['claude'], clock.ms);
      expect(inputs.norms.get('claude')).toEqual(volumeNormOf(store.query(), 'claude', 'p', clock.ms));
      expect(inputs.norms.get('claude')!.runs).toBeGreaterThan(1000);
      // The last 24 h (+ clock skew) and the first partial hour: a few hundred events, not the week's 1,400.
      read = 0;
      breakerInputs(counting, 'p', config(60), emptyControls(), ['claude'], clock.ms);
      expect(read).toBeLessThan(500);
    } finally {
      store.close();
    }
  });
});
