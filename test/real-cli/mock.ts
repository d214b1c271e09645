/**
 * A scripted stand-in for each tool's model API, on 127.0.0.1 only.
 *
 * One server per CLI run. It answers the CLI's model requests with a fixed list of tool calls, one call
 * per model turn: the n-th main-loop request (counted by the tool results it carries) gets the n-th
 * scripted call; once every call has a result it answers with plain text so the CLI ends its turn.
 * Every request is recorded, and the tool results the CLI sends back are extracted per scripted call.
 * It listens on loopback addresses only (127.0.0.1 unless told otherwise).
 * `GET|POST /probe/<id>` is a network probe: a scripted `curl` that reaches it proves the command ran
 * with network access.
 *
 * Wire formats (established on this machine, see /tmp/research/*.md):
 * - Claude Code: `POST /v1/messages` (stream) → SSE `message_start`, `content_block_start|delta|stop`
 *   (`tool_use` + `input_json_delta`), `message_delta` (`stop_reason: tool_use`), `message_stop`; the
 *   result comes back as a `tool_result` block in the next request.
 * - Gemini CLI: `POST /v1beta/models/<m>:streamGenerateContent?alt=sse` → SSE chunks of
 *   `candidates[].content.parts[].functionCall`; the result comes back as a `functionResponse` part.
 * - Codex: `POST /v1/responses` → SSE `response.created`, `response.output_item.done` (`function_call`
 *   or `custom_tool_call`), `response.completed`; the result comes back as a `function_call_output` /
 *   `custom_tool_call_output` input item.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export type ToolName = 'claude' | 'gemini' | 'codex';

/** One scripted tool call, in the tool's own vocabulary. */
export interface ScriptedCall {
  /** Stable id of the step (used to build the call id and to find its result). */
  id: string;
  /** The tool's native tool name (`Write`, `write_file`, `exec_command`, `apply_patch`, …). */
  name: string;
  /** Arguments (for a Codex custom tool: `{ input: string }`). */
  args: Record<string, unknown>;
  /** Codex only: send as a freeform `custom_tool_call` (apply_patch) instead of a `function_call`. */
  custom?: boolean;
}

/** What the CLI sent back for one scripted call. */
export interface ToolResult {
  /** The result text as the model would see it (JSON-encoded when the tool sent structured data). */
  text: string;
  /** Claude Code's `is_error` flag (undefined for the other tools). */
  isError: boolean | undefined;
}

/** One recorded HTTP request. */
export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  /** The API key the request carried (`x-api-key`, `x-goog-api-key`, a bearer token or a `key` parameter), if any. */
  key: string | undefined;
}

/** The API key an HTTP request carries, in whichever of the three tools' ways. */
function keyOf(req: IncomingMessage): string | undefined {
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
  const bearer = /^Bearer (.+)$/i.exec(header('authorization') ?? '')?.[1];
  return header('x-api-key') ?? header('x-goog-api-key') ?? bearer ?? new URL(req.url ?? '/', 'http://mock').searchParams.get('key') ?? undefined;
}

const FINAL_TEXT = 'All scripted steps are done.';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((b) => (b && typeof b === 'object' && 'text' in b ? String((b as { text: unknown }).text) : JSON.stringify(b))).join('\n');
  return content === undefined ? '' : JSON.stringify(content);
}

type Obj = Record<string, any>;

/** A scripted model API for one tool and one CLI run. */
export class MockModelServer {
  readonly requests: RecordedRequest[] = [];
  /** Ids of `/probe/<id>` hits (network probes that got through). */
  readonly probes: string[] = [];
  /** Non-main-loop requests answered generically (for diagnostics). */
  readonly sideRequests: string[] = [];
  private server: Server | undefined;
  private port = 0;

  private probeServer: Server | undefined;
  private probePort = 0;

  /**
   * @param host loopback address the model API listens on
   * @param probeHost loopback address the network probes listen on (a second listener when it differs:
   *   inside the OS sandbox the API host is reachable whatever the policy, so probes need another one)
   * @param tls the model API's certificate and key (PEM): it then speaks HTTPS, as the real APIs do
   *   (the probes stay plain HTTP)
   */
  constructor(
    readonly tool: ToolName,
    public script: ScriptedCall[],
    readonly model: string,
    readonly host = '127.0.0.1',
    readonly probeHost = host,
    readonly tls?: { cert: string; key: string },
  ) {}

  /** Base URL of the model API (no trailing slash). */
  get origin(): string {
    return `${this.tls ? 'https' : 'http'}://${this.host}:${this.port}`;
  }

  /** Base URL of the network probes (no trailing slash). */
  get probeOrigin(): string {
    return this.probeServer ? `http://${this.probeHost}:${this.probePort}` : this.origin;
  }

  async start(): Promise<this> {
    const listen = async (host: string, tls?: { cert: string; key: string }): Promise<[Server, number]> => {
      const handler = (req: IncomingMessage, res: ServerResponse) => {
        this.handle(req, res).catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: String(error) } }));
        });
      };
      const server = tls ? createTlsServer(tls, handler) : createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
      return [server, (server.address() as AddressInfo).port];
    };
    [this.server, this.port] = await listen(this.host, this.tls);
    if (this.probeHost !== this.host) [this.probeServer, this.probePort] = await listen(this.probeHost);
    return this;
  }

  async close(): Promise<void> {
    for (const s of [this.server, this.probeServer]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  /** The result the CLI sent back for each scripted call id (latest request wins). */
  results(): Map<string, ToolResult> {
    const out = new Map<string, ToolResult>();
    for (const r of this.requests) {
      for (const [id, result] of this.extract(r)) out.set(id, result);
    }
    return out;
  }

  /** Main-loop model requests (those that carry the tool list). */
  mainRequests(): RecordedRequest[] {
    return this.requests.filter((r) => this.isMain(r));
  }

  /** Tool names the CLI offered the model in its first main-loop request. */
  offeredTools(): string[] {
    const first = this.mainRequests()[0]?.body as Obj | undefined;
    if (!first) return [];
    if (this.tool === 'gemini') return (first.tools ?? []).flatMap((t: Obj) => (t.functionDeclarations ?? []).map((f: Obj) => String(f.name)));
    return (first.tools ?? []).map((t: Obj) => String(t.name ?? t.type));
  }

  // ---- request handling ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : '';
    const path = req.url ?? '/';
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      /* keep raw text */
    }
    const probe = path.match(/^\/probe\/([\w.-]+)/);
    if (probe) {
      this.probes.push(probe[1]!);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`probe ${probe[1]} reached\n`);
      return;
    }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path, body, key: keyOf(req) };
    this.requests.push(recorded);
    if (this.tool === 'claude') return this.claude(recorded, res);
    if (this.tool === 'gemini') return this.gemini(recorded, res);
    return this.codex(recorded, res);
  }

  private isMain(r: RecordedRequest): boolean {
    const b = r.body as Obj | undefined;
    if (!b || typeof b !== 'object' || r.method !== 'POST') return false;
    if (this.tool === 'claude') return /\/v1\/messages(\?|$)/.test(r.path) && Array.isArray(b.tools) && b.tools.length > 0;
    if (this.tool === 'gemini') return r.path.includes(':streamGenerateContent') && Array.isArray(b.tools) && b.tools.length > 0;
    return /\/responses(\?|$)/.test(r.path) && Array.isArray(b.tools) && b.tools.length > 0;
  }

  /** The next scripted call for a main-loop request, or undefined when the script is done. */
  private next(r: RecordedRequest): ScriptedCall | undefined {
    const answered = this.extract(r).size;
    return this.script[answered];
  }

  private callId(step: ScriptedCall): string {
    return this.tool === 'claude' ? `toolu_${step.id.replace(/[^\w]/g, '_')}` : `call_${step.id.replace(/[^\w]/g, '_')}`;
  }

  private stepOfCallId(callId: string): string | undefined {
    return this.script.find((s) => this.callId(s) === callId)?.id;
  }

  /** Tool results carried by one request, keyed by scripted step id. */
  private extract(r: RecordedRequest): Map<string, ToolResult> {
    const out = new Map<string, ToolResult>();
    const b = r.body as Obj | undefined;
    if (!b || typeof b !== 'object') return out;
    if (this.tool === 'claude') {
      for (const m of (b.messages ?? []) as Obj[]) {
        if (m.role !== 'user' || !Array.isArray(m.content)) continue;
        for (const block of m.content as Obj[]) {
          if (block.type !== 'tool_result') continue;
          const id = this.stepOfCallId(String(block.tool_use_id));
          if (id) out.set(id, { text: textOf(block.content), isError: block.is_error === true });
        }
      }
    } else if (this.tool === 'gemini') {
      // Gemini pairs results by order (and by `id` when the CLI echoes it): one call per turn here.
      let n = 0;
      for (const c of (b.contents ?? []) as Obj[]) {
        for (const part of (c.parts ?? []) as Obj[]) {
          if (!part.functionResponse) continue;
          const fr = part.functionResponse as Obj;
          const id = (fr.id && this.stepOfCallId(String(fr.id))) || this.script[n]?.id;
          n++;
          if (id) out.set(id, { text: JSON.stringify(fr.response ?? {}), isError: undefined });
        }
      }
    } else {
      for (const item of (b.input ?? []) as Obj[]) {
        if (item.type !== 'function_call_output' && item.type !== 'custom_tool_call_output') continue;
        const id = this.stepOfCallId(String(item.call_id));
        if (id) out.set(id, { text: textOf(item.output), isError: undefined });
      }
    }
    return out;
  }

  // ---- Claude Code (Anthropic Messages API) ----

  private claude(r: RecordedRequest, res: ServerResponse): void {
    const b = (r.body ?? {}) as Obj;
    if (r.path.startsWith('/v1/messages/count_tokens')) return json(res, { input_tokens: 10 });
    if (r.method !== 'POST' || !r.path.startsWith('/v1/messages')) {
      this.sideRequests.push(`${r.method} ${r.path}`);
      return json(res, { data: [], has_more: false });
    }
    const step = this.isMain(r) ? this.next(r) : undefined;
    if (!this.isMain(r)) this.sideRequests.push(`${r.method} ${r.path} (no tools)`);
    const model = String(b.model ?? this.model);
    const msgId = `msg_${this.requests.length}`;
    const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const content = step
      ? [{ type: 'tool_use', id: this.callId(step), name: step.name, input: step.args }]
      : [{ type: 'text', text: FINAL_TEXT }];
    const stopReason = step ? 'tool_use' : 'end_turn';
    if (b.stream !== true) {
      return json(res, { id: msgId, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage });
    }
    const events: [string, Obj][] = [
      ['message_start', { type: 'message_start', message: { id: msgId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }],
    ];
    if (step) {
      events.push(['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: this.callId(step), name: step.name, input: {} } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(step.args) } }]);
    } else {
      events.push(['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: FINAL_TEXT } }]);
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index: 0 }]);
    events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 5 } }]);
    events.push(['message_stop', { type: 'message_stop' }]);
    sse(res, events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
  }

  // ---- Gemini CLI (Gemini API) ----

  private gemini(r: RecordedRequest, res: ServerResponse): void {
    const usageMetadata = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };
    if (r.path.includes(':countTokens')) return json(res, { totalTokens: 10 });
    if (r.path.includes(':streamGenerateContent')) {
      const main = this.isMain(r);
      if (!main) this.sideRequests.push(`${r.method} ${r.path} (no tools)`);
      const step = main ? this.next(r) : undefined;
      const parts = step ? [{ functionCall: { name: step.name, args: step.args } }] : [{ text: FINAL_TEXT }];
      const chunk = { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion: this.model };
      return sse(res, [`data: ${JSON.stringify(chunk)}\r\n\r\n`]);
    }
    if (r.path.includes(':generateContent')) {
      // Side calls (next-speaker check, routing, summaries) expect JSON text.
      this.sideRequests.push(`${r.method} ${r.path}`);
      const text = JSON.stringify({ reasoning: 'scripted', next_speaker: 'user', model_choice: 'flash' });
      return json(res, { candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }], usageMetadata });
    }
    this.sideRequests.push(`${r.method} ${r.path}`);
    return json(res, { models: [] });
  }

  // ---- Codex (OpenAI Responses API) ----

  private codex(r: RecordedRequest, res: ServerResponse): void {
    if (r.method !== 'POST' || !/\/responses(\?|$)/.test(r.path)) {
      this.sideRequests.push(`${r.method} ${r.path}`);
      return json(res, { object: 'list', data: [], models: [] });
    }
    const main = this.isMain(r);
    if (!main) this.sideRequests.push(`${r.method} ${r.path} (no tools)`);
    const step = main ? this.next(r) : undefined;
    const respId = `resp_${this.requests.length}`;
    const events: Obj[] = [{ type: 'response.created', response: { id: respId } }];
    if (step) {
      const item = step.custom
        ? { type: 'custom_tool_call', id: `ctc_${step.id}`, call_id: this.callId(step), name: step.name, input: String(step.args.input ?? ''), status: 'completed' }
        : { type: 'function_call', id: `fc_${step.id}`, call_id: this.callId(step), name: step.name, arguments: JSON.stringify(step.args), status: 'completed' };
      events.push({ type: 'response.output_item.done', output_index: 0, item });
    } else {
      events.push({
        type: 'response.output_item.done',
        output_index: 0,
        item: { type: 'message', role: 'assistant', id: `msg_${this.requests.length}`, status: 'completed', content: [{ type: 'output_text', text: FINAL_TEXT, annotations: [] }] },
      });
    }
    events.push({ type: 'response.completed', response: { id: respId, usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 } } });
    sse(res, events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`));
  }
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sse(res: ServerResponse, chunks: string[]): void {
  const body = chunks.join('');
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
