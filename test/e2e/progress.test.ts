/**
 * Progress on long work, in a real terminal (`script`): `audit verify` and `projections rebuild` draw a
 * progress bar on stderr when it is a terminal, and erase it before their report; piped, they print none.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { agentctl, BIN, cleanup, git, makeRepo, taskFile, tempDir } from '../helpers.js';

afterAll(cleanup);

const hasScript = spawnSync('script', ['--version']).status === 0;
let repo = '';
let home = '';

beforeAll(async () => {
  ({ repo, home } = makeRepo({ '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n', 'agent.sh': '#!/bin/sh\nmkdir -p docs\necho x >> docs/a.md\n', 'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 't') }));
  chmodSync(join(repo, 'agent.sh'), 0o755);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'agent');
  for (let i = 0; i < 2; i++) expect((await agentctl(repo, home, ['run', 't'])).code).toBe(0);
});

/** What a terminal got from `agentctl <args>` (stdout and stderr both go to it), and the exit code. */
function onTerminal(args: string, term = 'xterm', at = home): { screen: string; code: number | null } {
  const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} ${args}`, '/dev/null'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: at, NO_COLOR: '1', TERM: term }, encoding: 'utf8' });
  return { screen: r.stdout, code: r.status };
}

describe.runIf(hasScript)('progress on a terminal', () => {
  it('audit verify draws "verifying events" to 100% on a terminal, then erases it; piped, nothing', async () => {
    const t = onTerminal('audit verify');
    expect(t.code).toBe(0);
    expect(t.screen).toMatch(/verifying events \[.*\] 100%/);
    // Erased (ESC [2K) before the report is printed.
    expect(t.screen.slice(t.screen.lastIndexOf('100%'))).toMatch(/\u001b\[2K[^]*ok: \d+ events/);
    const piped = await agentctl(repo, home, ['audit', 'verify']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain('verifying');
  });

  it('projections rebuild draws "rebuilding projections" to 100% on a terminal; piped, nothing', async () => {
    const t = onTerminal('projections rebuild');
    expect(t.code).toBe(0);
    expect(t.screen).toMatch(/rebuilding projections \[.*\] 100%/);
    expect(t.screen).toMatch(/Rebuilt 2 run\(s\): agreed/);
    const piped = await agentctl(repo, home, ['projections', 'rebuild', '--json']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain('rebuilding');
    expect(JSON.parse(piped.stdout).agreed).toBe(true);
  });

  it('a verification that fails half-way erases its bar before the report; a dumb terminal gets no bar', () => {
    const copy = join(tempDir(), 'home');
    cpSync(home, copy, { recursive: true });
    const db = new Database(join(copy, 'agentctl.db'));
    const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").all() as { name: string; sql: string }[];
    for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
    db.prepare("UPDATE events SET payload = '{}' WHERE seq = 5").run();
    for (const t of triggers) db.exec(t.sql);
    db.close();
    const t = onTerminal('audit verify', 'xterm', copy);
    expect(t.code).toBe(7);
    expect(t.screen).toContain('verifying events');
    // The bar never reached 100%: it is erased (ESC [2K) before FAILED, not left with the report glued on.
    const after = t.screen.slice(t.screen.lastIndexOf('verifying events'));
    expect(after).toMatch(/^verifying events [^\n]*\u001b\[2K[^\n]*FAILED/);
    const dumb = onTerminal('audit verify', 'dumb');
    expect(dumb.code).toBe(0);
    expect(dumb.screen).not.toContain('verifying');
  });
});
