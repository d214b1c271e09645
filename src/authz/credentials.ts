/**
 * The agent tool's API keys in the OS sandbox. A confined agent (and everything it starts) holds a
 * stand-in for each key; the sandbox's proxy on the host, which terminates TLS for the tool's API host,
 * puts the real key back in one place only: the authentication header of a request to that host and
 * port. Nothing else of a request is rewritten, so nothing the API echoes (a model name, another header,
 * the messages) can carry the key back, and no other host or port ever gets it. Pure.
 *
 * srt's own credential masking (`credentials.envVars`) is not used: it replaces the stand-in in every
 * header and in request bodies too, and the APIs quote fields back in their errors (an unknown `model`,
 * an unknown `anthropic-beta` value): an attack session read the real key that way.
 * Source of the hook: @anthropic-ai/sandbox-runtime 0.0.83 `dist/sandbox/request-filter.d.ts`
 * (`network.filterRequest`: `RequestDecision.setHeaders`, `RequestInfo.target`).
 */

/** The variable that hands {@link KeyInjection} (JSON) to the sandbox's entry point (src/exec/srtMain.ts), which removes it. */
export const KEY_INJECTION_ENV = 'AGENTCTL_SANDBOX_KEYS';

/** What the sandbox's proxy needs to put the keys back in. */
export interface KeyInjection {
  /** `host:port` of the tool's API (lower case, as srt spells a CONNECT target): the only destination that gets a key. */
  hosts: string[];
  /** Each key: the stand-in the confined process holds and the real value. */
  keys: { standIn: string; value: string }[];
}

/**
 * The headers that carry an API key, and how: Anthropic's `x-api-key`, Gemini's `x-goog-api-key`, and a
 * bearer token in `authorization` (OpenAI, Codex, Anthropic's `ANTHROPIC_AUTH_TOKEN`).
 */
const KEY_HEADERS: readonly { name: string; prefix: string }[] = [
  { name: 'x-api-key', prefix: '' },
  { name: 'x-goog-api-key', prefix: '' },
  { name: 'authorization', prefix: 'Bearer ' },
];

/**
 * The headers to set on a request the sandbox's proxy forwards: for a request to one of the API's
 * `host:port`, each key header whose whole value is a stand-in (after its `Bearer ` prefix) gets the
 * real key; anything else, nothing. A header sent twice reads as the values joined by `, ` and so
 * matches no stand-in.
 * @param target where the request goes (srt's CONNECT target, or the plain request's host and port);
 *   undefined: nothing
 * @param headers the request's headers as received (a `Headers`: case-insensitive `get`)
 * @returns `[name, value]` pairs for srt's `setHeaders`, empty when nothing is put in
 */
export function injectedHeaders(injection: KeyInjection, target: { host: string; port: number } | undefined, headers: { get(name: string): string | null }): [string, string][] {
  if (!target || !injection.hosts.includes(`${target.host.toLowerCase()}:${target.port}`)) return [];
  const out: [string, string][] = [];
  for (const { name, prefix } of KEY_HEADERS) {
    const value = headers.get(name);
    if (value === null || !value.startsWith(prefix)) continue;
    const key = injection.keys.find((k) => k.standIn === value.slice(prefix.length));
    if (key) out.push([name, prefix + key.value]);
  }
  return out;
}

/**
 * Read {@link KeyInjection} from its variable's JSON.
 * @throws Error when it is not the shape agentctl writes (the sandbox then does not start); the message
 *   never quotes the text
 */
export function parseKeyInjection(text: string): KeyInjection {
  let v: Partial<KeyInjection>;
  try {
    v = JSON.parse(text) as Partial<KeyInjection>;
  } catch {
    // Not JSON.parse's own message: it quotes the text, keys included.
    throw new Error(`${KEY_INJECTION_ENV} is not what agentctl writes`);
  }
  const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((x) => typeof x === 'string' && x.length > 0);
  if (!v || typeof v !== 'object' || !strings(v.hosts) || !v.hosts.length || !Array.isArray(v.keys) || !v.keys.every((k) => k && typeof k.standIn === 'string' && k.standIn.length >= 16 && typeof k.value === 'string' && k.value.length > 0)) {
    throw new Error(`${KEY_INJECTION_ENV} is not what agentctl writes`);
  }
  return { hosts: v.hosts, keys: v.keys.map((k) => ({ standIn: k.standIn, value: k.value })) };
}
