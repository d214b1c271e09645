/**
 * A log written by the previous version (test/fixtures/log-v3: made by make-log-v3.mjs with the store of
 * commit fc0551c: no row projections, a trust snapshot of the old logic) is read correctly: every
 * projection is built on first use and equals a fold of the whole log; the CLI lists its runs.
 */
import { chmodSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/evidence/canonical.js';
import { rebuildAll, requestRows } from '../src/evidence/projectionCatalog.js';
import { projectRuns } from '../src/evidence/projections/runs.js';
import { projectTrust, trustView } from '../src/evidence/projections/trust.js';
import { DEFAULT_TRUST_RULES } from '../src/evidence/projections/trust-rules.js';
import { listRuns } from '../src/evidence/runsStore.js';
import { openEventStore } from '../src/evidence/store.js';
import { currentTrust, rulesHash } from '../src/evidence/trustStore.js';
import { ROOT, agentctl, cleanup, makeRepo, tempDir } from './helpers.js';

afterEach(cleanup);

/** A copy of the fixture as an AGENTCTL_HOME. */
function oldHome(home = join(tempDir(), 'home')): string {
  cpSync(join(ROOT, 'test', 'fixtures', 'log-v3'), home, { recursive: true });
  chmodSync(join(home, 'keys'), 0o700);
  chmodSync(join(home, 'keys', 'log.key'), 0o600);
  return home;
}

describe('a log written by the previous version', () => {
  it('is the previous version: events and an old trust snapshot, no row projections', () => {
    const db = new Database(join(oldHome(), 'agentctl.db'), { readonly: true });
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
      expect(tables).not.toContain('projection_rows');
      const snap = db.prepare("SELECT rules_hash FROM projections WHERE name = 'trust:p'").get() as { rules_hash: string };
      expect(snap.rules_hash).not.toBe(rulesHash(DEFAULT_TRUST_RULES));
    } finally {
      db.close();
    }
  });

  it('opens, builds every projection on first use, and each equals a fold of the whole log', () => {
    const store = openEventStore(join(oldHome(), 'agentctl.db'));
    try {
      const events = store.query();
      const mine = events.filter((e) => e.project === 'p');
      expect(mine.length).toBeGreaterThan(200);
      const runs = listRuns(store, 'p').runs;
      expect(runs.map((r) => canonicalJson(r))).toEqual([...projectRuns(mine).values()].reverse().map((r) => canonicalJson(r)));
      expect(runs.filter((r) => r.state === 'merged').length).toBeGreaterThan(0);
      expect(canonicalJson(currentTrust(store, 'p', DEFAULT_TRUST_RULES))).toBe(canonicalJson(trustView(projectTrust(mine, DEFAULT_TRUST_RULES), DEFAULT_TRUST_RULES)));
      expect(requestRows(store, 'p').map((r) => r.payload.id)).toEqual(['follow-1', 'follow-3']);
      expect(rebuildAll(store, 'p', DEFAULT_TRUST_RULES).agreed).toBe(true);
      // The old snapshot was replaced by one of this version.
      expect(store.loadProjection('trust:p')?.rulesHash).toBe(rulesHash(DEFAULT_TRUST_RULES));
    } finally {
      store.close();
    }
  });

  it('the CLI lists its runs newest first, a page at a time, and agrees on a rebuild', async () => {
    const { repo } = makeRepo({ '.agentrc.yaml': 'project: p\n' });
    const home = oldHome();
    const page = await agentctl(repo, home, ['runs', '--limit', '5', '--json']);
    expect(page.code).toBe(0);
    const parsed = JSON.parse(page.stdout) as { runs: { runId: string }[]; more: boolean };
    expect(parsed.runs.map((r) => r.runId)).toEqual(['run-028', 'run-027', 'run-026', 'run-025', 'run-023']);
    expect(parsed.more).toBe(true);
    const all = JSON.parse((await agentctl(repo, home, ['runs', '--all', '--json'])).stdout) as { runs: unknown[]; more: boolean };
    expect(all.runs.length).toBe(24);
    expect(all.more).toBe(false);
    const rebuilt = await agentctl(repo, home, ['projections', 'rebuild', '--json']);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout).agreed).toBe(true);
  });
});
