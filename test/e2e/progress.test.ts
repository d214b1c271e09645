/**
 * Progress on long work, in a real terminal (`script`): `audit verify` and `projections rebuild` draw a
 * progress bar on stderr when it is a terminal, and erase it before their report; piped, they print none.
 * So does any command that brings a saved projection up to date from far behind (first use, an upgrade).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openEventStore } from '../../src/evidence/store.js';
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
  const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} ${args}`, '/dev/null'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: at, NO_COLOR: '1', TERM: term }, encoding: 'utf8', timeout: 60_000 });
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

  it('a dumb terminal (TERM=dumb) gets lines, never a view: run and review move no cursor and open no alternate screen', () => {
    for (const args of ['run t', 'review']) {
      const t = onTerminal(args, 'dumb');
      expect(t.code, `${args}: ${t.screen}`).toBe(0);
      // ESC [ ? … h/l: cursor hiding, the alternate screen, synchronized output (ink's views).
      expect(t.screen, args).not.toMatch(/\u001b\[\?\d+[hl]/);
    }
    expect(onTerminal('review', 'dumb').screen).toMatch(/t +command/);
  });

  it('a command whose saved projection is more than a page of events behind draws "bringing saved projections up to date", then erases it', async () => {
    const copy = join(tempDir(), 'home');
    cpSync(home, copy, { recursive: true });
    const store = openEventStore(join(copy, 'agentctl.db'));
    const planned = store.query({ types: ['run.planned'] })[0]!;
    const subject = { runId: planned.runId, task: planned.task, agent: planned.agent, project: planned.project, taskType: planned.taskType };
    // 6,000 tool calls of an earlier run: more than one page (5,000) for the runs projection to fold.
    store.append(Array.from({ length: 6000 }, (_, i) => ({ type: 'tool.called' as const, ...subject, payload: { id: `t${i}`, tool: 'Edit', input: { file_path: 'docs/a.md' }, path: 'docs/a.md' } })));
    store.close();
    const t = onTerminal('runs', 'xterm', copy);
    expect(t.code).toBe(0);
    expect(t.screen).toMatch(/bringing saved projections up to date \[.*\] 100%/);
    // Erased before the table: the header starts a clean line.
    expect(t.screen.slice(t.screen.lastIndexOf('100%'))).toMatch(/^100%[^\n]*\u001b\[2K\u001b\[1GRUN +TASK/);
    // Now current: no bar.
    expect(onTerminal('runs', 'xterm', copy).screen).not.toContain('bringing');
  });
});
