/** The run queue's pure parts: job options from the `queue:` config, and its config defaults and bounds. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/definition/config.js';
import { jobOptions } from '../../src/orchestrator/queue/enqueue.js';
import { heartbeatSecondsOf } from '../../src/orchestrator/queue/lease.js';
import { queueName } from '../../src/orchestrator/queue/names.js';

describe('run queue options', () => {
  it('a lost run is retried `retries` times with onLost: retry, never with onLost: review; the lease is the heartbeat', () => {
    expect(jobOptions({ remote: 'origin', leaseSeconds: 30, onLost: 'retry', retries: 3 })).toEqual({ retryLimit: 3, heartbeatSeconds: 22, expireInSeconds: 86_400, retryDelay: 0 });
    expect(jobOptions({ remote: 'origin', leaseSeconds: 30, onLost: 'review', retries: 3 }).retryLimit).toBe(0);
  });

  it('queue: defaults, and bad values name the field', () => {
    expect(parseConfig('/repo', undefined, 'p').queue).toEqual({ remote: 'origin', leaseSeconds: 60, onLost: 'retry', retries: 2 });
    expect(parseConfig('/repo', 'queue:\n  leaseSeconds: 16\n  onLost: review\n', 'p').queue).toMatchObject({ leaseSeconds: 16, onLost: 'review' });
    // The heartbeat limit is three quarters of the lease, and pg-boss refuses heartbeats under 10 s.
    expect(heartbeatSecondsOf(16)).toBe(12);
    expect(() => parseConfig('/repo', 'queue:\n  leaseSeconds: 15\n', 'p')).toThrow(/queue\.leaseSeconds/);
    expect(() => parseConfig('/repo', 'queue:\n  remote: "--upload-pack=x"\n', 'p')).toThrow(/queue\.remote/);
  });

  it('one queue per project identity (a name pg-boss accepts)', () => {
    expect(queueName('repo-0123456789abcdef')).toBe('agentctl-runs/repo-0123456789abcdef');
    expect(queueName('repo-0123456789abcdef')).toMatch(/^[\w.\-/]+$/);
  });
});
