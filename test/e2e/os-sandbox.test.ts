/** `sandbox: os`: the agent runs inside srt (bubblewrap); if the sandbox cannot start, the run fails closed. */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { chmodSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SCRIPTED_CLAUDE, agentctl, cleanup, git, makeRepo, taskFile, tempDir } from '../helpers.js';

afterEach(cleanup);

const BOXED = 'description: implement inside the OS sandbox\nextends: implement\nsandbox: os\n';
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);

function boxedRepo(agent: string, config = '') {
  const made = makeRepo({
    '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\n${config}`,
    '.agentctl/profiles/boxed.yaml': BOXED,
    'agent.sh': agent,
    '.env': 'API_TOKEN=secret-value\n',
    'tasks/t.md': taskFile({ agent: 'command', profile: 'boxed', type: 'docs' }, 'work'),
  });
  chmodSync(join(made.repo, 'agent.sh'), 0o755);
  git(made.repo, 'add', '-A');
  git(made.repo, 'commit', '-qm', 'setup');
  return made;
}

describe('OS sandbox', () => {
  it('fails closed, before any worktree, when the sandbox cannot start', async () => {
    const { repo, home } = boxedRepo('#!/bin/sh\necho hi\n', 'sandbox:\n  bin: /nonexistent/srt\n');
    const r = await agentctl(repo, home, ['run', 't']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/profile "boxed" asks for sandbox: os, but the OS sandbox cannot start \(missing: srt/);
    expect(existsSync(join(home, 'worktrees'))).toBe(false);
  });

  it('refuses a yolo run of Claude Code, before any worktree, when its own sandbox cannot start (no bwrap/socat on PATH)', async () => {
    const { repo, home } = makeRepo({
      '.agentrc.yaml': `agents:\n  claude:\n    bin: ${SCRIPTED_CLAUDE}\n`,
      'tasks/proto.md': taskFile({ agent: 'claude', profile: 'yolo', type: 'prototype', autonomy: 'review' }, 'hack it together'),
    });
    // A PATH with git and nothing else: no bwrap, no socat.
    const bin = join(tempDir(), 'bin');
    mkdirSync(bin, { recursive: true });
    const gitPath = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(gitPath, join(bin, 'git'));
    const r = await agentctl(repo, home, ['run', 'proto'], { PATH: bin });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/agent "claude" needs bwrap and socat on PATH with profile\(s\) yolo/);
    expect(existsSync(join(home, 'worktrees'))).toBe(false);
  });

  it.runIf(sandboxAvailable)('the agent can write its scope but not task files, cannot read .env and has no network', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end('reached');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const agent = [
        '#!/bin/sh',
        'mkdir -p docs && echo ok > docs/a.md && echo "docs written"',
        '(echo evil > tasks/evil.md) 2>/dev/null && echo "tasks WRITTEN" || echo "tasks denied"',
        'cat .env 2>/dev/null | grep -q secret-value && echo "env READ" || echo "env denied"',
        `node -e "fetch('http://127.0.0.1:${port}/').then(()=>console.log('fetch OPEN'),()=>console.log('fetch blocked'))"`,
      ].join('\n');
      const { repo, home } = boxedRepo(`${agent}\n`);
      const r = await agentctl(repo, home, ['run', 't', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const run = JSON.parse(r.stdout).run;
      const log = JSON.parse((await agentctl(repo, home, ['log', '--run', run.runId, '--json'])).stdout).events;
      const said = log.filter((e: { type: string }) => e.type === 'agent.message').map((e: { payload: { text: string } }) => e.payload.text);
      expect(said).toEqual(expect.arrayContaining(['docs written', 'tasks denied', 'env denied', 'fetch blocked']));
      expect(said).not.toContain('tasks WRITTEN');
      expect(said).not.toContain('env READ');
      expect(hits).toBe(0);
      expect(run.files.map((f: { path: string }) => f.path)).toEqual(['docs/a.md']);
      expect(log.find((e: { type: string }) => e.type === 'policy.rendered').payload.osSandbox).toMatch(/srt$/);
    } finally {
      server.close();
    }
  });
});
