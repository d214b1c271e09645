/**
 * Crash recovery on a shared log: a run's owner is a pid on one machine, so only that machine may call
 * the run orphaned. Runs planned by a dead pid here are recovered; the same on another host are not.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEventStore } from '../src/evidence/store.js';
import { openContext } from '../src/orchestrator/context.js';
import { sample } from './fixtures/eventSamples.js';
import { cleanup, makeRepo } from './helpers.js';

afterEach(cleanup);

describe('crash recovery and the machine that owns a run', () => {
  it('interrupts a run whose owner died on this machine, and leaves one owned by another machine alone', async () => {
    const { repo, home } = makeRepo();
    const env = { ...process.env, AGENTCTL_HOME: home };
    const first = await openContext(repo, env);
    const project = first.project.config.project;
    first.close();
    const store = openEventStore(join(home, 'agentctl.db'));
    const dead = 2 ** 22 + 12_345; // above the default pid_max: never a live process
    for (const [runId, ownerHost] of [['here', hostname()], ['there', 'another-machine.example']] as const) {
      store.append({ runId, task: 't', agent: 'command', project, taskType: 'docs', type: 'run.planned', payload: sample('run.planned', { repoRoot: repo, ownerPid: dead, ownerStart: null, ownerHost }) });
    }
    store.close();
    const ctx = await openContext(repo, env); // every command's context recovers orphaned runs first
    try {
      const interrupted = ctx.store.query({ types: ['run.interrupted'] }).map((e) => e.runId);
      expect(interrupted).toEqual(['here']);
    } finally {
      ctx.close();
    }
  });
});
