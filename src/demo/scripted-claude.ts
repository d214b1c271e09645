/**
 * A scripted stand-in for Claude Code, for the demo and the tests (no model, no network).
 *
 * It accepts the arguments agentctl passes to `claude` (`-p <prompt> --output-format stream-json
 * --verbose --settings <file> --permission-mode <mode>`), reads the steps to perform from a fenced
 * block in the prompt, really performs them in its working directory, enforces the generated
 * settings' `Edit`/`Bash` allow and deny rules the way Claude Code documents them, and prints Claude
 * Code's stream-json messages (system/init, assistant tool_use, user tool_result, result).
 *
 * Script block (one JSON object per line):
 * ```agent-script
 * {"say": "I will document the flags."}
 * {"write": "docs/flags.md", "content": "# Flags\n"}
 * {"append": "README.md", "content": "\nSee docs/flags.md\n"}
 * {"bash": "npm test"}
 * {"sleep": 200}
 * {"fail": "could not finish"}       (result subtype error_during_execution, exit 1)
 * ```
 *
 * Sessions, as Claude Code keeps them: every message carries `session_id` (a new UUID), and the session
 * (its prompt) is saved under `$CLAUDE_CONFIG_DIR/scripted-sessions/`. `--resume <session_id> -p <msg>`
 * loads it (unknown id: an error result, exit 1, like Claude Code's "No conversation found") and runs
 * the saved prompt's ```agent-script-resume block, or else the new message's agent-script block: a
 * task can script what its agent does when a reviewer sends it back.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import picomatch from 'picomatch';
import { testedAgentVersions } from '../core/agentTools.js';
import { childEnv, runProcess } from '../exec/runner.js';

type Step = { say?: string; write?: string; append?: string; content?: string; bash?: string; sleep?: number; fail?: string };

interface Settings {
  permissions?: { allow?: string[]; deny?: string[]; defaultMode?: string };
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Parse the script block (```agent-script, or another tag) out of a prompt. */
function parseScript(prompt: string, tag = 'agent-script'): Step[] {
  const match = prompt.match(new RegExp('```' + tag + '\\n([\\s\\S]*?)```'));
  if (!match) return [{ say: 'No agent-script block in the prompt; nothing to do.' }];
  return match[1]!
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Step);
}

function ruleMatchesPath(spec: string, absPath: string, cwd: string): boolean {
  if (spec.startsWith('//')) return picomatch(spec.slice(1), { dot: true })(absPath);
  if (spec.startsWith('~/')) return picomatch(join(homedir(), spec.slice(2)), { dot: true })(absPath);
  const rel = relative(cwd, absPath);
  if (rel.startsWith('..')) return false;
  const pattern = spec.replace(/^\.\//, '');
  return picomatch(pattern, { dot: true, basename: !spec.startsWith('./') && !pattern.includes('/') })(rel);
}

function matches(rule: string, tool: 'Edit' | 'Bash', target: string, cwd: string): boolean {
  if (rule === tool) return true;
  const m = rule.match(/^(\w+)\((.*)\)$/);
  if (!m) return false;
  const [, name, spec] = m as unknown as [string, string, string];
  if (tool === 'Edit' && (name === 'Edit' || name === 'Read')) return ruleMatchesPath(spec, target, cwd);
  if (tool === 'Bash' && name === 'Bash') {
    const prefix = spec.replace(/(:\*| \*)$/, '');
    return spec === target || (spec !== prefix && (target === prefix || target.startsWith(prefix + ' ')));
  }
  return false;
}

function permitted(settings: Settings, tool: 'Edit' | 'Bash', target: string, cwd: string): boolean {
  const p = settings.permissions ?? {};
  const rules = (list: string[] | undefined) => (list ?? []).filter((r) => tool === 'Edit' || r.startsWith('Bash'));
  if (rules(p.deny).some((r) => (tool === 'Bash' ? r.startsWith('Bash') : r.startsWith('Edit') || r.startsWith('Read')) && matches(r, tool, target, cwd))) return false;
  if (p.defaultMode === 'bypassPermissions') return true;
  return rules(p.allow).some((r) => (tool === 'Bash' ? r.startsWith('Bash') : r.startsWith('Edit')) && matches(r, tool, target, cwd));
}

/** Where sessions are kept: the tool's config dir (per run under agentctl), never the user's home. */
const sessionFile = (id: string): string | undefined => (process.env.CLAUDE_CONFIG_DIR && /^[\w-]+$/.test(id) ? join(process.env.CLAUDE_CONFIG_DIR, 'scripted-sessions', `${id}.json`) : undefined);

/** The steps to run: the prompt's, or on --resume the saved session's resume block (else the new message's). */
function stepsFor(prompt: string, resume: string | undefined): { session: string; steps: Step[] } | { missing: string } {
  if (resume === undefined) {
    const session = randomUUID();
    const file = sessionFile(session);
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ prompt }));
    }
    return { session, steps: parseScript(prompt) };
  }
  const file = sessionFile(resume);
  if (!file || !existsSync(file)) return { missing: resume };
  const saved = (JSON.parse(readFileSync(file, 'utf8')) as { prompt: string }).prompt;
  return { session: resume, steps: saved.includes('```agent-script-resume\n') ? parseScript(saved, 'agent-script-resume') : parseScript(prompt) };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  // `claude --version` prints `<version> (Claude Code)`: the stand-in claims the version agentctl was
  // tested with, so `agentctl doctor` accepts it where it stands in for Claude Code.
  if (args[0] === '--version' || args[0] === '-v') {
    process.stdout.write(`${testedAgentVersions().claude ?? '0.0.0'} (Claude Code; agentctl's scripted stand-in)\n`);
    return 0;
  }
  const prompt = argValue(args, '-p') ?? '';
  const settingsFile = argValue(args, '--settings');
  const settings: Settings = settingsFile ? (JSON.parse(readFileSync(settingsFile, 'utf8')) as Settings) : {};
  const cwd = process.cwd();
  const plan = stepsFor(prompt, argValue(args, '--resume'));
  if ('missing' in plan) {
    process.stdout.write(JSON.stringify({ type: 'result', subtype: 'error_during_execution', is_error: true, errors: [`No conversation found with session ID: ${plan.missing}`], session_id: plan.missing }) + '\n');
    return 1;
  }
  const session = plan.session;
  const out = (msg: Record<string, unknown>) => process.stdout.write(JSON.stringify({ ...msg, session_id: session }) + '\n');
  const denials: Record<string, unknown>[] = [];
  let n = 0;
  let last = 'Done.';
  out({ type: 'system', subtype: 'init', cwd, tools: ['Bash', 'Edit', 'Write', 'Read'], model: 'scripted', permissionMode: argValue(args, '--permission-mode') ?? 'default' });

  const toolCall = async (name: string, input: Record<string, unknown>, run: () => Promise<string>, allowed: boolean) => {
    const id = `toolu_${++n}`;
    out({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'tool_use', id, name, input }] }, parent_tool_use_id: null });
    let content: string;
    let isError = false;
    if (!allowed) {
      denials.push({ tool_name: name, tool_use_id: id, tool_input: input });
      content = `Permission to use ${name} has been denied.`;
      isError = true;
    } else {
      try {
        content = await run();
      } catch (error) {
        content = (error as Error).message;
        isError = true;
      }
    }
    out({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content, is_error: isError }] }, parent_tool_use_id: null });
  };

  for (const step of plan.steps) {
    if (step.say !== undefined) {
      last = step.say;
      out({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: step.say }] }, parent_tool_use_id: null });
    } else if (step.write !== undefined || step.append !== undefined) {
      const rel = (step.write ?? step.append)!;
      const abs = resolve(cwd, rel);
      const name = step.write !== undefined ? 'Write' : 'Edit';
      await toolCall(name, { file_path: abs, content: step.content ?? '' }, async () => {
        mkdirSync(dirname(abs), { recursive: true });
        if (step.write !== undefined) writeFileSync(abs, step.content ?? '');
        else appendFileSync(abs, step.content ?? '');
        return `The file ${abs} has been updated.`;
      }, permitted(settings, 'Edit', abs, cwd));
    } else if (step.bash !== undefined) {
      const command = step.bash;
      await toolCall('Bash', { command }, async () => {
        const r = await runProcess('sh', ['-c', command], { cwd, env: childEnv(process.env), acceptExitCodes: 'any' });
        if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}\n${r.stdout}${r.stderr}`);
        return r.stdout + r.stderr;
      }, permitted(settings, 'Bash', command, cwd));
    } else if (step.sleep !== undefined) {
      await new Promise((r) => setTimeout(r, step.sleep));
    } else if (step.fail !== undefined) {
      out({ type: 'result', subtype: 'error_during_execution', is_error: true, errors: [step.fail], num_turns: n, duration_ms: 1, total_cost_usd: 0.001, usage: { input_tokens: 10, output_tokens: 5 }, permission_denials: denials });
      return 1;
    }
  }
  out({ type: 'result', subtype: 'success', is_error: false, result: last, num_turns: n + 1, duration_ms: 5, total_cost_usd: 0.0123, usage: { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }, permission_denials: denials });
  return 0;
}

process.exitCode = await main();
