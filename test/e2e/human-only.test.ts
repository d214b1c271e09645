/**
 * Human-only decisions (promote, demote, breaker reset, resume) are refused from inside a run: a
 * process whose environment carries AGENTCTL_RUN_ID (every agent and gate gets it) gets exit 5 and no
 * event is written. Each refusal is followed by the same command from a human's terminal succeeding,
 * so the refusal is the run marker's doing and not some other state.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openEventStore } from '../../src/evidence/store.js';
import { agentctl, cleanup, makeRepo } from '../helpers.js';

afterEach(cleanup);

const INSIDE = { AGENTCTL_RUN_ID: 'r-0123456789' };

function events(home: string): { seq: number; type: string }[] {
  const db = new Database(join(home, 'agentctl.db'), { readonly: true });
  const all = db.prepare('SELECT seq, type FROM events ORDER BY seq').all() as { seq: number; type: string }[];
  db.close();
  return all;
}

describe('human-only decisions from inside a run', () => {
  it('promote, demote, breakers reset and resume are refused with exit 5 and record nothing; outside a run they work', async () => {
    const { repo, home } = makeRepo();
    const run = (args: string[], env: Record<string, string> = {}) => agentctl(repo, home, args, env);
    const refused = async (args: string[], decision: string) => {
      const before = events(home);
      const r = await run(args, INSIDE);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toContain(`${decision} is a human decision and is refused from inside a run (AGENTCTL_RUN_ID="r-0123456789")`);
      expect(events(home)).toEqual(before);
    };
    const allowed = async (args: string[], type: string) => {
      const r = await run(args);
      expect(r.code, r.stderr).toBe(0);
      expect(events(home).at(-1)?.type).toBe(type);
    };
    // Opening the log once (as any command does) creates it, so the counts above compare real files.
    expect((await run(['breakers'])).code).toBe(0);

    const promote = ['promote', 'claude', '--type', 'docs', '--to', 'auto', '--force', '--note', 'trusted'];
    await refused(promote, 'promote');
    await allowed(promote, 'trust.promoted');

    const demote = ['demote', 'claude', '--type', 'docs', '--reason', 'too eager'];
    await refused(demote, 'demote');
    await allowed(demote, 'trust.demoted');

    const store = openEventStore(join(home, 'agentctl.db'));
    const project = store.query({ types: ['trust.promoted'] })[0]!.project!;
    store.append({ type: 'breaker.tripped', agent: 'claude', project, payload: { breaker: 'volume', agent: 'claude', project, reason: 'too many runs' } });
    store.close();
    const reset = ['breakers', 'reset', 'volume', '--agent', 'claude', '--note', 'checked'];
    await refused(reset, 'breaker reset');
    await allowed(reset, 'breaker.reset');

    expect((await run(['halt', '--reason', 'stop'])).code).toBe(0);
    await refused(['resume'], 'resume');
    await allowed(['resume'], 'system.resumed');
  });
});
