/** The agent tool's API keys in the OS sandbox: stand-ins and what the sandbox's proxy is told (stages/confine.ts maskKeys, authz/credentials.ts). */
import { describe, expect, it } from 'vitest';
import { claudeAdapter } from '../../src/adapters/claude.js';
import { codexAdapter } from '../../src/adapters/codex.js';
import { KEY_INJECTION_ENV, parseKeyInjection } from '../../src/authz/credentials.js';
import { keyStandIns, maskKeys } from '../../src/orchestrator/stages/confine.js';
import type { ConfinedRun } from '../../src/orchestrator/stages/types.js';

/** A run confined by agentctl's own srt (or a `sandbox.bin` of the user's, which cannot put keys back in). */
const runIn = (injectsKeys: boolean | undefined) => ({ plan: { osSandbox: injectsKeys === undefined ? undefined : { file: 'node', args: [], injectsKeys } } }) as unknown as ConfinedRun;

describe('maskKeys', () => {
  it('gives the tool stand-ins, and its API (first endpoint only) the real keys, through the variable srt\'s entry point removes', () => {
    const m = maskKeys(runIn(true), codexAdapter, { PATH: '/bin', OPENAI_API_KEY: 'sk-real-1', CODEX_API_KEY: 'sk-real-2' });
    expect(m.env.PATH).toBe('/bin');
    expect(m.env.OPENAI_API_KEY).toMatch(/^agentctl-stand-in-[0-9a-f]{32}$/);
    expect(m.env.CODEX_API_KEY).toMatch(/^agentctl-stand-in-[0-9a-f]{32}$/);
    expect(m.env.OPENAI_API_KEY).not.toBe(m.env.CODEX_API_KEY);
    expect(m.apiHosts).toEqual(['api.openai.com:443', 'chatgpt.com:443']);
    expect(m.keys).toEqual({ plaintext: false });
    expect(parseKeyInjection(m.env[KEY_INJECTION_ENV]!)).toEqual({
      hosts: ['api.openai.com:443'],
      keys: [
        { standIn: m.env.OPENAI_API_KEY, value: 'sk-real-1' },
        { standIn: m.env.CODEX_API_KEY, value: 'sk-real-2' },
      ],
    });
  });

  it('reads the API and whether it is plain HTTP from the one environment the tool gets (agents.<tool>.env included): never an https port with plain-HTTP key headers', () => {
    const plain = maskKeys(runIn(true), claudeAdapter, { ANTHROPIC_API_KEY: 'sk-real', ANTHROPIC_BASE_URL: 'http://127.0.0.2:9' });
    expect(plain.apiHosts).toEqual(['127.0.0.2:9']);
    expect(plain.keys).toEqual({ plaintext: true });
    expect(parseKeyInjection(plain.env[KEY_INJECTION_ENV]!).hosts).toEqual(['127.0.0.2:9']);
    const tls = maskKeys(runIn(true), claudeAdapter, { ANTHROPIC_API_KEY: 'sk-real', ANTHROPIC_BASE_URL: 'https://GW.example' });
    expect(tls.apiHosts).toEqual(['gw.example:443']);
    expect(tls.keys).toEqual({ plaintext: false });
  });

  it('leaves the keys as they are without agentctl\'s srt (sandbox.bin, or no OS sandbox), and drops a key variable for srt that came from elsewhere', () => {
    for (const injects of [false, undefined]) {
      const m = maskKeys(runIn(injects), claudeAdapter, { ANTHROPIC_API_KEY: 'sk-real', [KEY_INJECTION_ENV]: '{"hosts":["x:1"],"keys":[]}' });
      expect(m.env).toEqual({ ANTHROPIC_API_KEY: 'sk-real' });
      expect(m.keys).toBeUndefined();
    }
    const none = maskKeys(runIn(true), claudeAdapter, { PATH: '/bin', [KEY_INJECTION_ENV]: '{"hosts":["x:1"],"keys":[]}' });
    expect(none.env).toEqual({ PATH: '/bin' });
    expect(none.keys).toBeUndefined();
  });
});

describe('keyStandIns', () => {
  it('names the keys set in the environment only for agentctl\'s own srt; the API from that environment either way', () => {
    const env = { ANTHROPIC_API_KEY: 'sk-real', ANTHROPIC_AUTH_TOKEN: '', ANTHROPIC_BASE_URL: 'https://gw.example:8443' };
    expect(keyStandIns({ file: 'node', args: [], injectsKeys: true }, claudeAdapter, env)).toEqual({ apiHosts: ['gw.example:8443'], names: ['ANTHROPIC_API_KEY'], keys: { plaintext: false } });
    for (const sandbox of [{ file: 'srt', args: [], injectsKeys: false }, undefined]) {
      expect(keyStandIns(sandbox, claudeAdapter, env)).toEqual({ apiHosts: ['gw.example:8443'], names: [], keys: undefined });
    }
  });
});

describe('parseKeyInjection', () => {
  it('refuses what agentctl does not write, and its message never quotes the text (a key)', () => {
    for (const text of ['{"hosts":["a:443"],"keys":[{"standIn":"agentctl-stand-in-x","value":"sk-SECRET"}', 'null', '[]', '{"hosts":[],"keys":[{"standIn":"s","value":"sk-SECRET"}]}']) {
      let message = '';
      try {
        parseKeyInjection(text);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, text).toBe(`${KEY_INJECTION_ENV} is not what agentctl writes`);
    }
  });
});
