/**
 * Attack: a repository commits `store: postgres://<their server>` in .agentrc.yaml, so that whoever runs
 * agentctl in it sends their evidence (and the PGPASSWORD of their environment) to that server. A fake
 * server (a TCP listener recording connections) stands in for theirs. Until the user approves the store
 * on their machine, agentctl refuses and never connects; after `agentctl store approve` it does.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { approvalsFile, approveStore, isStoreApproved, normaliseStoreUrl } from '../../src/evidence/storeApproval.js';
import { homePaths } from '../../src/core/paths.js';
import { ROOT, agentctl, cleanup, makeRepo, tempDir } from '../helpers.js';

describe("a repository's committed store: is used only once the user approved it", () => {
  let server: Server;
  let port = 0;
  const connections: Socket[] = [];
  beforeAll(async () => {
    server = createServer((socket) => {
      connections.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  afterEach(cleanup);

  it('refused before approval (no connection, exit 3), refused from inside a run, connected after `store approve`', async () => {
    const url = `postgres://victim@127.0.0.1:${port}/agentctl`;
    const { repo, home } = makeRepo({ '.agentrc.yaml': `store: ${url}\n` });
    const env = { PGPASSWORD: 'team-secret', PGCONNECT_TIMEOUT: '3' };

    for (const args of [['tasks', '--json'], ['runs', '--json'], ['audit', 'verify']]) {
      const r = await agentctl(repo, home, args, env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/not approved on this machine/);
      expect(r.stderr).toContain('agentctl store approve');
      expect(r.stderr).not.toContain('team-secret');
    }
    // doctor names the fix.
    const doctor = await agentctl(repo, home, ['doctor', '--json'], env);
    expect(JSON.parse(doctor.stdout).checks.eventLog).toMatchObject({ status: 'fail', fix: expect.stringContaining('agentctl store approve') });
    expect(connections).toHaveLength(0);

    // An agent (anything carrying AGENTCTL_RUN_ID) cannot approve it.
    const inside = await agentctl(repo, home, ['store', 'approve'], { ...env, AGENTCTL_RUN_ID: 'r1' });
    expect(inside.code, inside.stderr).toBe(5);
    expect((await agentctl(repo, home, ['tasks', '--json'], env)).code).toBe(3);
    expect(connections).toHaveLength(0);

    const approve = await agentctl(repo, home, ['store', 'approve', '--json'], env);
    expect(approve.code, approve.stderr).toBe(0);
    expect(JSON.parse(approve.stdout)).toEqual({ store: url, added: true });
    // Now the command goes to the store (this fake one hangs up, so it fails, but it was reached).
    const after = await agentctl(repo, home, ['tasks', '--json'], env);
    expect(after.code).not.toBe(0);
    expect(connections.length).toBeGreaterThan(0);
  }, 120_000);

  it('the approval file keeps no password, from the user part or the parameters; other parameters still tell stores apart', async () => {
    const home = tempDir();
    const paths = homePaths(home);
    const url = 'postgresql://writer:s3cret@DB.example:5433/team?sslmode=require&password=s3cret2&sslpassword=s3cret3&SSLKEY=s3cret4';
    expect(await approveStore(paths, url)).toEqual({ url: 'postgres://writer@db.example:5433/team?sslmode=require', added: true });
    expect(readFileSync(approvalsFile(paths), 'utf8')).not.toMatch(/s3cret/);
    expect(isStoreApproved(paths, 'postgres://writer:other@db.example:5433/team?password=x&sslmode=require')).toBe(true);
    expect(isStoreApproved(paths, 'postgres://writer@db.example:5433/team?sslmode=disable')).toBe(false);
    expect(isStoreApproved(paths, 'postgres://writer@db.example:5433/team?sslmode=require&host=/tmp/elsewhere')).toBe(false);
  });

  it('a store URL that does not parse is reported without its password', () => {
    expect(() => normaliseStoreUrl('postgres://writer:s3cret@bad host/db')).toThrow(/writer:\*\*\*@/);
    expect(() => normaliseStoreUrl('postgres://writer:s3cret@bad host/db')).not.toThrow(/s3cret/);
  });
  it('approvals made at the same time by several processes are all kept (the read and the write are locked)', async () => {
    const home = tempDir();
    const go = join(tempDir(), 'go');
    // Each process approves 25 stores of its own as soon as the file `go` appears: without the lock, one
    // process's write replaces a list another had just extended.
    const code = `import { existsSync } from 'node:fs';
import { approveStore } from ${JSON.stringify(join(ROOT, 'dist', 'evidence', 'storeApproval.js'))};
import { homePaths } from ${JSON.stringify(join(ROOT, 'dist', 'core', 'paths.js'))};
console.log('ready');
while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
for (let i = 0; i < 25; i++) await approveStore(homePaths(${JSON.stringify(home)}), 'postgres://w@host-' + process.argv[1] + '-' + i + '/db');`;
    const children = [1, 2, 3, 4].map((n) => spawn(process.execPath, ['--input-type=module', '-e', code, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await Promise.all(children.map((c) => new Promise((resolve) => c.stdout!.once('data', resolve))));
    writeFileSync(go, '');
    const codes = await Promise.all(children.map((c) => new Promise<number | null>((resolve) => c.on('exit', resolve))));
    expect(codes).toEqual([0, 0, 0, 0]);
    const approved = JSON.parse(readFileSync(approvalsFile(homePaths(home)), 'utf8')).approved as string[];
    expect(approved).toHaveLength(100);
    expect(new Set(approved).size).toBe(100);
  }, 60_000);
});
