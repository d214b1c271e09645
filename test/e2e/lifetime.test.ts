/**
 * No process outlives its run (issue 9, finding 7): whatever an agent starts (in the background, with
 * `setsid`, with `nohup`, in its own process group) is gone when the run ends, and `halt` returns only
 * when every process of every run is gone, even an agent that ignores SIGTERM. Each case runs inside the
 * OS sandbox (where the agent's processes live in their own PID namespace) and with `sandbox: none`
 * (where agentctl must find them by the run id in their environment).
 *
 * The agent's children are `sleep`s named after a unique tag (see `taggedSleep`), found from the host
 * with pgrep. The agent itself reports, from inside, that they are up before it goes on, so that
 * "none is left" afterwards cannot pass because none was ever started.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentctl, approveRepo, BIN, cleanup, git, makeRepo, processesOfRun, tagged, taggedSleep, taskFile, tempDir, waitFor } from '../helpers.js';

afterEach(cleanup);

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg', 'pgrep', 'setsid', 'bash'].every(has);

/** `[a]gentctl-…`: a pattern that matches the tag but not pgrep's own command line. */
const selfless = (tag: string) => `[${tag[0]}]${tag.slice(1)}`;

/**
 * Shell lines that wait (up to 10 s) until a process named `<tag>-<kind>` is up for every kind, then
 * print `up: <count>`.
 */
function reportUp(tag: string, kinds: readonly string[]): string {
  const checks = kinds.map((k) => `pgrep -f "${selfless(tag)}-${k}" >/dev/null && n=$((n+1))`).join('; ');
  return `i=0; while :; do n=0; ${checks}; [ $n -eq ${kinds.length} ] || [ $i -ge 50 ] && break; i=$((i+1)); sleep 0.2; done\necho "up: $n"`;
}

/** A repository whose `command` agent is `agent`; task `t` runs under the built-in implement profile (OS sandbox) or `open` (sandbox: none). */
function repoWith(agent: string, sandbox: 'os' | 'none') {
  const made = makeRepo({
    '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
    '.agentctl/profiles/open.yaml': 'description: no OS sandbox\nextends: implement\nsandbox: none\n',
    'agent.sh': agent,
    'tasks/t.md': taskFile({ agent: 'command', type: 'docs', ...(sandbox === 'none' ? { profile: 'open' } : {}) }, 'work'),
  });
  chmodSync(join(made.repo, 'agent.sh'), 0o755);
  git(made.repo, 'add', '-A');
  git(made.repo, 'commit', '-qm', 'agent');
  approveRepo(made.repo, made.home); // the open profile's sandbox: none
  return made;
}

async function messages(repo: string, home: string, runId: string): Promise<string[]> {
  const events = JSON.parse((await agentctl(repo, home, ['log', '--run', runId, '--json'])).stdout).events as { type: string; payload: { text?: string } }[];
  return events.filter((e) => e.type === 'agent.message').map((e) => String(e.payload.text));
}

describe.runIf(sandboxAvailable).each(['os', 'none'] as const)('no process outlives its run (sandbox: %s)', (sandbox) => {
  it('what the agent leaves behind (background, setsid, nohup, its own process group) neither keeps the run waiting nor outlives it', async () => {
    const tag = `agentctl-leftover-${sandbox}-${process.pid}-${Date.now()}`;
    const kinds = ['bg', 'setsid', 'nohup', 'group'] as const;
    // All but the nohup one keep the agent's stdout and stderr open, as `cmd &` does.
    const agent = [
      '#!/bin/sh',
      'mkdir -p docs && echo x > docs/a.md',
      `(${taggedSleep(`${tag}-bg`)} &)`,
      `setsid ${taggedSleep(`${tag}-setsid`)} &`,
      `nohup ${taggedSleep(`${tag}-nohup`)} >/dev/null 2>&1 &`,
      `${taggedSleep(`${tag}-group`)} &`,
      reportUp(tag, kinds),
      '',
    ].join('\n');
    const { repo, home } = repoWith(agent, sandbox);
    const child = spawn(process.execPath, [BIN, 'run', 't', '--json'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    try {
      // The agent exits within seconds; its leftovers would sleep for 300 s. A run still going after
      // 90 s is waiting for them.
      const code = await Promise.race([closed, new Promise<'hung'>((r) => setTimeout(() => r("hung"), 90_000))]);
      expect(code, 'the run did not end after its agent exited: it waits for what the agent left behind').toBe(0);
      const run = JSON.parse(stdout).run;
      expect(await messages(repo, home, run.runId)).toContain(`up: ${kinds.length}`);
      expect(tagged(tag)).toEqual([]);
      expect(processesOfRun(run.runId)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      for (const pid of tagged(tag)) process.kill(pid, 'SIGKILL');
    }
  }, 150_000);

  it('halt stops an agent that ignores SIGTERM and its setsid child, and returns only when they are gone (exit 0)', async () => {
    const tag = `agentctl-halt-${sandbox}-${process.pid}-${Date.now()}`;
    const agent = ['#!/bin/sh', "trap '' TERM", `setsid ${taggedSleep(`${tag}-setsid`)} &`, reportUp(tag, ['setsid']), 'while :; do sleep 1; done', ''].join('\n');
    const { repo, home } = repoWith(agent, sandbox);
    const child = spawn(process.execPath, [BIN, 'run', 't', '--json'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    const runId = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs[0].runId as string;
    expect(await waitFor(async () => (await messages(repo, home, runId)).includes('up: 1'))).toBe(true);
    expect(processesOfRun(runId).length).toBeGreaterThan(1); // the agent and its child, at least

    const h = await agentctl(tempDir(), home, ['halt', '--reason', 'test', '--json']);
    expect(h.code, h.stdout + h.stderr).toBe(0);
    expect(JSON.parse(h.stdout)).toMatchObject({ stopped: [{ runId }], survivors: [] });
    // No waiting: halt has already checked.
    expect(tagged(tag)).toEqual([]);
    expect(processesOfRun(runId)).toEqual([]);
    expect(await closed).toBe(130);
    expect(JSON.parse(stdout).run.state).toBe('interrupted');
  });
  it('halt still stops every agent when the log fails verification (nothing can be recorded): exit 7', async () => {
    const tag = `agentctl-halt-forged-${sandbox}-${process.pid}-${Date.now()}`;
    const agent = ['#!/bin/sh', `${taggedSleep(tag)} &`, reportUp(tag, ['sleep']), 'while :; do sleep 1; done', ''].join('\n');
    const { repo, home } = repoWith(agent, sandbox);
    const child = spawn(process.execPath, [BIN, 'run', 't', '--json'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = new Promise<number | null>((r) => child.on('close', r));
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    const runId = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs[0].runId as string;
    // Someone replaced the checkpoint: the log now fails verification and refuses writes.
    writeFileSync(join(home, 'agentctl.db.checkpoint'), JSON.stringify({ format: 2, seq: 1, hash: 'f'.repeat(64), keyedFrom: 1, mac: '0'.repeat(64) }));
    const h = await agentctl(tempDir(), home, ['halt', '--reason', 'test', '--json']);
    expect(h.code, h.stdout + h.stderr).toBe(7);
    expect(JSON.parse(h.stdout)).toMatchObject({ recorded: false, stopped: [{ runId }], survivors: [] });
    expect(tagged(tag)).toEqual([]);
    expect(processesOfRun(runId)).toEqual([]);
    await closed;
  });
});
