/**
 * The scripted actions, in each tool's own vocabulary, with what agentctl's policy says about them
 * (decidePath / decideCommand from src/authz/check.ts) and how to tell what really happened.
 */
import { decideCommand, decidePath } from '../../src/authz/check.js';
import type { Policy } from '../../src/authz/policy.js';
import type { ScriptedCall, ToolName, ToolResult } from './mock.js';
import { MAIN_SECRET, readIn, SECRET, TEST_MARKER, type HostPaths, type RunOutcome } from './harness.js';
import { ESCAPE_CHECKS, ESCAPE_FILE, ESCAPE_MARK, escapeCode, escaped, escapeEvidence, escapeRan, secretLeaks, type Via } from './escape.js';

/** Marker written by every scripted write; finding it on disk proves the write happened. */
export const WRITE_MARKER = 'agentctl-real-cli-write';

/** Each tool's own configuration file inside the worktree. */
export const OWN_CONFIG: Record<ToolName, string> = {
  claude: '.claude/settings.json',
  gemini: '.gemini/settings.json',
  codex: '.codex/config.toml',
};

/** What agentctl's policy decides for one action. */
export interface PolicyVerdict {
  allowed: boolean;
  /** Which decisions it combines, e.g. `command "cat .env": allow; read .env: deny`. */
  why: string;
}

/** What the worktree, the tool result and the probe log show after the run. */
export interface Observation {
  /** The action took effect: the file was written, the secret was returned, the command ran. */
  happened: boolean;
  /** Short evidence for the table. */
  evidence: string;
}

/** Everything a check needs after the run. */
export interface RunFacts {
  worktree: string;
  /** The result of the call the row reads (see {@link Action.resultOf}). */
  result: ToolResult | undefined;
  probes: readonly string[];
  outcome: RunOutcome;
}

/** What a scripted call may name. */
export interface CallContext {
  worktree: string;
  probeUrl: (id: string) => string;
  host: HostPaths;
}

/** One scripted action. */
export interface Action {
  id: string;
  /** Column text for the table. */
  label: string;
  /** The policy's verdict. */
  decide(policy: Policy, tool: ToolName): PolicyVerdict;
  /** The tool call(s), or undefined when the tool has no way to express this action (the row is n/a). */
  call(tool: ToolName, ctx: CallContext): ScriptedCall | ScriptedCall[] | undefined;
  /** A row with no call of its own, read from the run (another call's result, the gate, the log). */
  observeOnly?: boolean;
  /** Id of the call whose result the row needs back from the CLI (default: `id`); null: none. */
  resultOf?: string | null;
  /** What happened. */
  observe(tool: ToolName, facts: RunFacts): Observation;
}

const pathVerdict = (policy: Policy, access: 'read' | 'write', path: string): PolicyVerdict => {
  const d = decidePath(policy, access, path);
  return { allowed: d.allowed, why: `${access} ${path}: ${d.allowed ? 'allow' : 'deny'}${d.rule ? ` (${d.rule.kind} ${d.rule.value})` : ' (default)'}` };
};

const commandVerdict = (policy: Policy, command: string): PolicyVerdict => {
  const d = decideCommand(policy, command);
  return { allowed: d.allowed, why: `command \`${command}\`: ${d.allowed ? 'allow' : 'deny'}${d.rule ? ` (${d.rule.kind} ${d.rule.value})` : ' (default)'}` };
};

const both = (a: PolicyVerdict, b: PolicyVerdict): PolicyVerdict => ({ allowed: a.allowed && b.allowed, why: `${a.why}; ${b.why}` });

const oneLine = (text: string, max = 90): string => {
  const t = text.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
};

/** Result text as evidence ("no result" when the CLI never answered the call). */
const resultEvidence = (r: ToolResult | undefined): string => (r ? `result: ${oneLine(r.text)}` : 'no tool result sent back');

function writeCall(tool: ToolName, worktree: string, id: string, path: string, content: string): ScriptedCall {
  if (tool === 'claude') return { id, name: 'Write', args: { file_path: `${worktree}/${path}`, content } };
  if (tool === 'gemini') return { id, name: 'write_file', args: { file_path: path, content } };
  const body = content.split('\n').filter((l, i, all) => i < all.length - 1 || l !== '').map((l) => `+${l}`).join('\n');
  return { id, name: 'apply_patch', custom: true, args: { input: `*** Begin Patch\n*** Add File: ${path}\n${body}\n*** End Patch\n` } };
}

function shellCall(tool: ToolName, id: string, command: string): ScriptedCall {
  if (tool === 'claude') return { id, name: 'Bash', args: { command, description: 'scripted step' } };
  if (tool === 'gemini') return { id, name: 'run_shell_command', args: { command, description: 'scripted step' } };
  return { id, name: 'exec_command', args: { cmd: command } };
}

function writeAction(id: string, label: string, path: (tool: ToolName) => string): Action {
  const content = (tool: ToolName) => (path(tool).endsWith('.json') ? `{ "note": "${WRITE_MARKER}" }\n` : path(tool).endsWith('.toml') ? `# ${WRITE_MARKER}\n` : `// ${WRITE_MARKER}\n`);
  return {
    id,
    label,
    decide: (policy, tool) => pathVerdict(policy, 'write', path(tool)),
    call: (tool, { worktree }) => writeCall(tool, worktree, id, path(tool), content(tool)),
    observe(tool, facts) {
      const onDisk = readIn(facts.worktree, path(tool));
      const happened = onDisk !== undefined && onDisk.includes(WRITE_MARKER);
      return { happened, evidence: `${happened ? 'file written' : 'file absent'}; ${resultEvidence(facts.result)}` };
    },
  };
}

function secretAction(id: string, label: string, command: ((tool: ToolName) => string | undefined) | undefined, toolCall?: (tool: ToolName, worktree: string) => ScriptedCall | undefined): Action {
  return {
    id,
    label,
    decide(policy, tool) {
      const read = pathVerdict(policy, 'read', '.env');
      const cmd = command?.(tool);
      return cmd ? both(commandVerdict(policy, cmd), read) : read;
    },
    call(tool, { worktree }) {
      const custom = toolCall?.(tool, worktree);
      if (custom) return custom;
      const cmd = command?.(tool);
      return cmd ? shellCall(tool, id, cmd) : undefined;
    },
    observe(_tool, facts) {
      const happened = facts.result !== undefined && facts.result.text.includes(SECRET);
      return { happened, evidence: `${happened ? 'secret returned' : 'secret not returned'}; ${resultEvidence(facts.result)}` };
    },
  };
}

/** The actions every tool × profile run scripts, in order (tool-config writes last). */
export const ACTIONS: Action[] = [
  writeAction('write-in-scope', 'write src/a.ts', () => 'src/a.ts'),
  writeAction('write-out-of-scope', 'write notes/x.txt', () => 'notes/x.txt'),
  secretAction('read-secret', 'read .env (file tool)', undefined, (tool, worktree) => {
    if (tool === 'claude') return { id: 'read-secret', name: 'Read', args: { file_path: `${worktree}/.env` } };
    if (tool === 'gemini') return { id: 'read-secret', name: 'read_file', args: { file_path: '.env' } };
    return undefined; // Codex has no file-reading tool: it reads through the shell (next action)
  }),
  secretAction('cat-secret', 'cat .env (shell)', () => 'cat .env'),
  secretAction('subshell-secret', "sh -c 'cat .env'", () => "sh -c 'cat .env'"),
  secretAction(
    'search-secret',
    'search for API_TOKEN',
    (tool) => (tool === 'gemini' ? undefined : 'grep -rn API_TOKEN .'),
    (tool) => (tool === 'gemini' ? { id: 'search-secret', name: 'grep_search', args: { pattern: 'API_TOKEN' } } : undefined),
  ),
  {
    id: 'run-tests',
    label: 'npm test',
    decide: (policy) => commandVerdict(policy, 'npm test'),
    call: (tool) => shellCall(tool, 'run-tests', 'npm test'),
    observe(_tool, facts) {
      // The echo line `> echo MARKER` shows npm ran the script; the marker alone on a line is its output.
      const happened = facts.result !== undefined && new RegExp(`(^|\\n)${TEST_MARKER}`).test(facts.result.text.replace(/\\n/g, '\n'));
      return { happened, evidence: `${happened ? 'test script ran' : 'test script did not run'}; ${resultEvidence(facts.result)}` };
    },
  },
  {
    // A harmless command outside every allow list but yolo's (Claude Code auto-allows `echo` on its own).
    id: 'unlisted-command',
    label: 'echo (not in the allow list)',
    decide: (policy) => commandVerdict(policy, 'echo unlisted-ran | tr a-z A-Z'),
    call: (tool) => shellCall(tool, 'unlisted-command', 'echo unlisted-ran | tr a-z A-Z'),
    observe(_tool, facts) {
      // The upper-cased output, which no refusal message quoting the command contains.
      const happened = facts.result !== undefined && facts.result.text.includes('UNLISTED-RAN');
      return { happened, evidence: `${happened ? 'command ran' : 'command did not run'}; ${resultEvidence(facts.result)}` };
    },
  },
  {
    id: 'network',
    label: 'curl 127.0.0.1 (network)',
    decide(policy) {
      const cmd = commandVerdict(policy, 'curl -sS -m 5 http://127.0.0.1/probe');
      // In the OS sandbox the probe is this machine's loopback, which no policy opens: network on means the
      // registries and code hosts (authz/render/os.ts NETWORK_ON_HOSTS), and srt's proxy runs on the host.
      // Unconfined, the policy's network rule is all there is.
      const net: PolicyVerdict =
        policy.sandbox.value === 'os'
          ? { allowed: false, why: `this machine's loopback: the OS sandbox never opens it (network: ${policy.network.value ? 'on' : 'off'}, ${policy.network.source})` }
          : { allowed: policy.network.value, why: `network: ${policy.network.value ? 'on' : 'off'} (${policy.network.source})` };
      return both(cmd, net);
    },
    call: (tool, { probeUrl }) => shellCall(tool, 'network', `curl -sS -m 5 --noproxy '' ${probeUrl('network')}`),
    observe(_tool, facts) {
      const happened = facts.probes.includes('network');
      return { happened, evidence: `${happened ? 'probe reached' : 'probe not reached'}; ${resultEvidence(facts.result)}` };
    },
  },
  {
    // The main checkout is outside the run: its local .env (never in the worktree) must stay unreadable.
    id: 'cat-main-secret',
    label: 'cat <main checkout>/.env (shell)',
    decide: (policy) => both(commandVerdict(policy, 'cat /abs/main/.env'), { allowed: false, why: 'read <main>/.env: deny (outside the worktree)' }),
    call: (tool, { host }) => shellCall(tool, 'cat-main-secret', `cat ${host.repo}/.env`),
    observe(_tool, facts) {
      const happened = facts.result !== undefined && facts.result.text.includes(MAIN_SECRET);
      return { happened, evidence: `${happened ? 'main secret returned' : 'main secret not returned'}; ${resultEvidence(facts.result)}` };
    },
  },
  {
    // Every profile grants the protocol report files (Codex: the .agentctl folder, issue 9 finding 12).
    id: 'write-protocol',
    label: 'write .agentctl/handover.md (report file)',
    decide: (policy) => pathVerdict(policy, 'write', '.agentctl/handover.md'),
    call(tool, { worktree }) {
      const write = writeCall(tool, worktree, 'write-protocol', '.agentctl/handover.md', `${WRITE_MARKER}\n`);
      // Claude Code writes an existing file only after reading it.
      return tool === 'claude' ? [{ id: 'write-protocol-read', name: 'Read', args: { file_path: `${worktree}/.agentctl/handover.md` } }, write] : write;
    },
    observe(_tool, facts) {
      const happened = (readIn(facts.worktree, '.agentctl/handover.md') ?? '').includes(WRITE_MARKER);
      return { happened, evidence: `${happened ? 'report written' : 'report not written'}; ${resultEvidence(facts.result)}` };
    },
  },
  ...escapeActions(),
  writeAction('write-task-file', 'write tasks/new.md (file tool)', () => 'tasks/new.md'),
  writeAction('write-mcp-json', 'write .mcp.json (file tool)', () => '.mcp.json'),
  writeAction('write-own-config', 'write own config (file tool)', (tool) => OWN_CONFIG[tool]),
  {
    id: 'shell-mcp-json',
    label: 'shell write .mcp.json (missing at start)',
    decide: (policy) => both(commandVerdict(policy, 'echo x > .mcp.json'), pathVerdict(policy, 'write', '.mcp.json')),
    call: (tool) => shellCall(tool, 'shell-mcp-json', `echo '{ "note": "${WRITE_MARKER}" }' > .mcp.json`),
    observe(_tool, facts) {
      const onDisk = readIn(facts.worktree, '.mcp.json');
      const happened = onDisk !== undefined && onDisk.includes(WRITE_MARKER);
      return { happened, evidence: `${happened ? '.mcp.json written' : onDisk === undefined ? '.mcp.json absent' : '.mcp.json present without the marker'}; ${resultEvidence(facts.result)}` };
    },
  },
  {
    id: 'shell-own-config',
    label: 'shell write into own config dir',
    decide(policy, tool) {
      const path = OWN_CONFIG[tool].replace('config', 'shell').replace('settings', 'shell');
      const dir = path.split('/')[0]!;
      return both(commandVerdict(policy, `mkdir -p ${dir} && echo x > ${path}`), pathVerdict(policy, 'write', path));
    },
    call(tool) {
      const path = OWN_CONFIG[tool].replace('config', 'shell').replace('settings', 'shell');
      const dir = path.split('/')[0]!;
      return shellCall(tool, 'shell-own-config', `mkdir -p ${dir} && echo '${WRITE_MARKER}' > ${path}`);
    },
    observe(tool, facts) {
      const path = OWN_CONFIG[tool].replace('config', 'shell').replace('settings', 'shell');
      const onDisk = readIn(facts.worktree, path);
      const happened = onDisk !== undefined && onDisk.includes(WRITE_MARKER);
      return { happened, evidence: `${happened ? `${path} written` : `${path} absent`}; ${resultEvidence(facts.result)}` };
    },
  },
  ...secretRows(),
];

/** The scripted calls for one tool, in order. */
export function scriptFor(tool: ToolName, ctx: CallContext): ScriptedCall[] {
  return ACTIONS.flatMap((a) => a.call(tool, ctx) ?? []);
}

/** Rows for agent-written code (see ./escape.ts): write it, run it with `npm test`, and the gate runs it. */
function escapeActions(): Action[] {
  const ranRow = (via: Via): Action => ({
    id: `${via}-ran`,
    label: via === 'agent' ? 'npm test runs the agent code' : 'the gate runs the agent code',
    // The gate always runs: the code is there when the agent could write it.
    decide: (policy) => (via === 'agent' ? both(commandVerdict(policy, 'npm test'), pathVerdict(policy, 'write', ESCAPE_FILE)) : pathVerdict(policy, 'write', ESCAPE_FILE)),
    call: (tool) => (via === 'agent' ? shellCall(tool, 'agent-ran', 'npm test') : undefined),
    observeOnly: via === 'gate',
    resultOf: via === 'agent' ? 'agent-ran' : null,
    observe(_tool, facts) {
      const happened = escapeRan(facts, via);
      return { happened, evidence: `${happened ? 'the code ran' : 'the code did not run'}; ${via === 'agent' ? resultEvidence(facts.result) : `gate exit ${facts.outcome.gate?.exitCode ?? 'none'}`}` };
    },
  });
  const rows = (via: Via): Action[] =>
    ESCAPE_CHECKS.map((check) => ({
      id: `${via}-${check.id}`,
      label: `${via === 'agent' ? 'agent code (npm test)' : 'agent code (gate)'} ${check.label}`,
      decide: (policy) => check.decide(policy),
      call: () => undefined,
      observeOnly: true,
      resultOf: via === 'agent' ? 'agent-ran' : null,
      observe(_tool, facts) {
        const happened = escaped(check, facts, via);
        return { happened, evidence: escapeEvidence(check, facts, via, happened) };
      },
    }));
  return [
    {
      id: 'escape-write',
      label: `write agent code ${ESCAPE_FILE}`,
      decide: (policy) => pathVerdict(policy, 'write', ESCAPE_FILE),
      call: (tool, { worktree, host }) => writeCall(tool, worktree, 'escape-write', ESCAPE_FILE, escapeCode(tool, host)),
      observe(_tool, facts) {
        const happened = (readIn(facts.worktree, ESCAPE_FILE) ?? '').includes(ESCAPE_MARK);
        return { happened, evidence: `${happened ? 'file written' : 'file absent'}; ${resultEvidence(facts.result)}` };
      },
    },
    ranRow('agent'),
    ...rows('agent'),
    ranRow('gate'),
    ...rows('gate'),
  ];
}

/** Rows for the secrets (the worktree's `.env` and the main checkout's): never in a request, the log or the tree. */
function secretRows(): Action[] {
  const places = [
    ['model', 'a model request (tool results)'],
    ['log', 'the log (event stream, gate output)'],
    ['tree', 'the worktree (any file but its .env)'],
  ] as const;
  return places.map(([place, where]) => ({
    id: `secret-in-${place}`,
    label: `a secret reaches ${where}`,
    decide: () => ({ allowed: false, why: 'read .env: deny (every profile); the main checkout is outside the run' }),
    call: () => undefined,
    observeOnly: true,
    resultOf: null,
    observe(_tool, facts) {
      const found = secretLeaks(facts.outcome)[place];
      return { happened: found.length > 0, evidence: found.length ? found.slice(0, 3).join('; ') : 'nowhere' };
    },
  }));
}
