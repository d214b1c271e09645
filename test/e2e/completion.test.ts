/**
 * `agentctl completion bash|zsh|fish` through the built bin: the bash script loads and proposes what the
 * command table has (checked against `buildProgram` itself, so a new command can never be forgotten);
 * the zsh and fish scripts parse and complete (when those shells are installed).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { bashCompletion, completionTree, fishCompletion, zshCompletion } from '../../src/cli/completion.js';
import { buildProgram } from '../../src/cli/program.js';
import { BIN, agentctl, cleanup, tempDir } from '../helpers.js';

afterEach(cleanup);

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const AGENTCTL = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`;
/** The program's own top-level commands (with commander's implicit `help`). */
const program = buildProgram(() => undefined);
const subcommandsOf = (...path: string[]) => {
  let cmd = program;
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  return program.createHelp().visibleCommands(cmd).map((c) => c.name());
};
const TOP = subcommandsOf();

/** Run bash with the completion loaded; `words` as typed, completing the last one. */
function bashComplete(words: string[]): string[] {
  const script = `source <(${AGENTCTL} completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_agentctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('agentctl completion bash', () => {
  it('loads with source <(agentctl completion bash) and registers the completion function', () => {
    const r = spawnSync('bash', ['-c', `source <(${AGENTCTL} completion bash); complete -p agentctl`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('complete -F _agentctl agentctl');
  });

  it('proposes every subcommand of the program, subcommands of a group, options, and option choices', () => {
    expect(TOP).toEqual(expect.arrayContaining(['init', 'doctor', 'completion', 'run', 'review', 'help']));
    expect(bashComplete(['agentctl', '']).sort()).toEqual([...TOP].sort());
    expect(bashComplete(['agentctl', 'do'])).toEqual(['doctor']);
    expect(bashComplete(['agentctl', 're'])).toEqual(['restore', 'review', 'resume']);
    expect(bashComplete(['agentctl', 'review', ''])).toEqual(subcommandsOf('review'));
    expect(bashComplete(['agentctl', 'policy', ''])).toEqual(['show', 'check', 'help']);
    expect(bashComplete(['agentctl', 'review', 'merge', '--'])).toEqual(['--note', '--json', '--help']);
    expect(bashComplete(['agentctl', 'runs', '--state', 'a'])).toEqual(['awaiting_review']);
    expect(bashComplete(['agentctl', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    // The value of an option is never taken for a subcommand: `--note show` stays in `review merge`.
    expect(bashComplete(['agentctl', 'review', 'merge', '--note', 'show', '--j'])).toEqual(['--json']);
    // After an option without choices, file names.
    const dir = tempDir();
    writeFileSync(join(dir, 'trust-report.html'), '');
    expect(bashComplete(['agentctl', 'promote', '--html', join(dir, 'trust-')])).toEqual([join(dir, 'trust-report.html')]);
  });

  it('rejects an unknown shell (exit 2)', async () => {
    const r = await agentctl(tempDir(), tempDir(), ['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Allowed choices are bash, zsh, fish');
  });
});

describe.runIf(has('zsh'))('agentctl completion zsh', () => {
  it('parses (zsh -n) and completes subcommands, options and choices', async () => {
    const file = join(tempDir(), '_agentctl');
    writeFileSync(file, (await agentctl(tempDir(), tempDir(), ['completion', 'zsh'])).stdout);
    expect(spawnSync('zsh', ['-n', file], { encoding: 'utf8' }).status).toBe(0);
    // The completion system's builtins stubbed to print what they are given.
    const run = (words: string[]) => {
      const script = `compdef() { :; }; _describe() { print -l -- "\${(@P)\${@[-1]}}"; }; compadd() { shift; print -l -- "$@"; }; _files() { print FILES; }
source ${file}; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _agentctl`;
      const r = spawnSync('zsh', ['-f', '-c', script], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean);
    };
    const doctor = program.commands.find((c) => c.name() === 'doctor')!;
    expect(run(['agentctl', ''])).toContain(`doctor:${doctor.description()}`);
    expect(run(['agentctl', 'policy', '']).map((l) => l.split(':')[0])).toEqual(subcommandsOf('policy'));
    expect(run(['agentctl', 'policy', 'show', 't', '--tool', ''])).toEqual(['claude', 'gemini', 'codex']);
    expect(run(['agentctl', 'promote', '--html', ''])).toEqual(['FILES']);
  });
});

describe.runIf(has('fish'))('agentctl completion fish', () => {
  it('parses (fish -n) and completes through fish itself (complete -C)', async () => {
    const file = join(tempDir(), 'agentctl.fish');
    writeFileSync(file, (await agentctl(tempDir(), tempDir(), ['completion', 'fish'])).stdout);
    expect(spawnSync('fish', ['-n', file]).status).toBe(0);
    const run = (line: string) => {
      const r = spawnSync('fish', ['-c', `source ${file}; complete -C ${JSON.stringify(line)}`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
    };
    expect(run('agentctl ').sort()).toEqual([...TOP].sort());
    expect(run('agentctl trust ').sort()).toEqual(subcommandsOf('trust').sort());
    expect(run('agentctl runs --state ')).toContain('awaiting_review');
    expect(run('agentctl review merge --n')).toEqual(['--note']);
  });
});

describe('completion scripts from any program', () => {
  it('quote descriptions and values safely for each shell', () => {
    const p = new Command('agentctl');
    p.command('say').description(`it's "quoted" $(not run) \`nor this\``).addOption(new Option('--mode <m>', 'a mode').choices(['a', 'b']));
    const tree = completionTree(p);
    expect(tree.commands[0]).toMatchObject({ path: ['agentctl', 'say'], options: [{ flags: ['--mode'], takesValue: true, choices: ['a', 'b'] }, { flags: ['-h', '--help'] }] });
    const dir = tempDir();
    for (const [shell, text, check] of [
      ['bash', bashCompletion(tree), ['bash', '-n']],
      ['zsh', zshCompletion(tree), ['zsh', '-n']],
      ['fish', fishCompletion(tree), ['fish', '-n']],
    ] as const) {
      const file = join(dir, shell);
      writeFileSync(file, text);
      if (has(check[0])) expect(spawnSync(check[0], [check[1], file], { encoding: 'utf8' }).status, `${shell} -n`).toBe(0);
    }
    if (has('fish')) {
      const r = spawnSync('fish', ['-c', `source ${join(dir, 'fish')}; complete -C 'agentctl s'`], { encoding: 'utf8' });
      expect(r.stdout).toBe(`say\tit's "quoted" $(not run) \`nor this\`\n`);
    }
  });
});
