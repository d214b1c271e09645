/** Port leases (src/exec/ports.ts) for real: lease files, live and dead owners, ports in use, several processes at once. */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { portEnv, releasePorts, reservePorts, type PortBlock } from '../src/exec/ports.js';
import { processStartTime } from '../src/exec/processes.js';
import { ROOT, cleanup, tempDir } from './helpers.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  cleanup();
});

const overlap = (a: PortBlock, b: PortBlock) => a.first < b.first + b.count && b.first < a.first + a.count;

describe('port leases', () => {
  it('two running runs get disjoint blocks; a released block is handed out again', async () => {
    const dir = tempDir();
    const a = await reservePorts(dir, 'run-a', 10);
    const b = await reservePorts(dir, 'run-b', 10);
    expect(a.count).toBe(10);
    expect(overlap(a, b)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json')).sort()).toEqual(['run-a.json', 'run-b.json']);
    releasePorts(dir, 'run-a');
    expect(await reservePorts(dir, 'run-c', 10)).toEqual(a);
    expect(portEnv(b)).toEqual({ AGENTCTL_PORT: String(b.first), AGENTCTL_PORT_COUNT: '10' });
  });

  it('a lease whose owner process is gone is reclaimed; a live one is not', async () => {
    const dir = tempDir();
    const first = await reservePorts(dir, 'probe', 5);
    releasePorts(dir, 'probe');
    const dead = spawnSync('true').pid!;
    writeFileSync(join(dir, 'crashed.json'), JSON.stringify({ runId: 'crashed', ...first, pid: dead, pidStart: '1' }));
    expect(await reservePorts(dir, 'after-crash', 5)).toEqual(first);
    releasePorts(dir, 'after-crash');
    writeFileSync(join(dir, 'alive.json'), JSON.stringify({ runId: 'alive', ...first, pid: process.pid, pidStart: processStartTime(process.pid) ?? null }));
    expect(overlap(await reservePorts(dir, 'next', 5), first)).toBe(false);
  });

  it('a port something else listens on is never in a block', async () => {
    const dir = tempDir();
    const probe = await reservePorts(dir, 'probe', 3);
    releasePorts(dir, 'probe');
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(probe.first + 1, '127.0.0.1', r));
    const block = await reservePorts(dir, 'run', 3);
    expect(block.first).toBeGreaterThan(probe.first + 1);
  });

  it('processes reserving at the same time get disjoint blocks (one lock)', async () => {
    const dir = tempDir();
    const go = join(tempDir(), 'go');
    const code = `import { existsSync } from 'node:fs';
import { reservePorts } from ${JSON.stringify(join(ROOT, 'dist', 'exec', 'ports.js'))};
console.log('ready');
while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
const b = await reservePorts(${JSON.stringify(dir)}, process.argv[1], 10);
console.log(JSON.stringify(b));
process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
    const children = [1, 2, 3, 4].map((i) => spawn(process.execPath, ['--input-type=module', '-e', code, `run-${i}`], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const lines = children.map((c) => {
      const queue: string[] = [];
      const waiters: ((l: string) => void)[] = [];
      let buf = '';
      c.stdout!.on('data', (d) => {
        buf += String(d);
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = waiters.shift();
          if (w) w(line);
          else queue.push(line);
        }
      });
      return () => new Promise<string>((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve)));
    });
    // All start reserving at the same moment; each holds its lease (stays alive) until every one has its block.
    await Promise.all(lines.map((next) => next()));
    writeFileSync(go, '');
    const blocks = await Promise.all(lines.map(async (next) => JSON.parse(await next()) as PortBlock));
    for (const c of children) c.stdin!.end();
    for (let i = 0; i < blocks.length; i++) for (let j = i + 1; j < blocks.length; j++) expect(overlap(blocks[i]!, blocks[j]!), `${i} ${j}`).toBe(false);
  });
});
