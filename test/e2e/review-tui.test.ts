/**
 * The interactive review through a real pseudo-terminal: the BUILT bin/agentctl runs `review` in a
 * detached tmux session of 80×24 (its own tmux server), the test types keys and reads the screen with
 * capture-pane. Two runs made by a `command` agent await review (one gate failed, one ready); the
 * agent put an escape sequence (screen clear + window title) in a file name and in its summary.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, agentctl, cleanup, git, makeRepo, taskFile } from '../helpers.js';

/** A tmux server of this test file only (-L), so nothing else's sessions are touched. */
const SERVER = `agentctl-review-tui-${process.pid}`;
if (spawnSync('sh', ['-c', 'command -v tmux']).status !== 0) throw new Error('these tests drive a real terminal through tmux: install it (apt-get install tmux)');
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', SERVER, ...args], { encoding: 'utf8' });

afterAll(() => {
  tmux('kill-server');
  cleanup();
});

const AGENT = `#!/bin/sh
name=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1)
A=$(printf '\\033[2J\\033]0;pwned\\007')
mkdir -p docs
for i in $(seq 1 60); do echo "line $i of $name" >> "docs/$name.md"; done
printf 'x\\n' > "docs/evil$A.md"
printf '%s\\n' '{"observed":"two options","considered":["a","b"],"decided":"a","confidence":0.7}' >> .agentctl/trace.jsonl
printf 'summary of %s %s end\\n' "$name" "$A"
`;
/** How terminalSafe shows the agent's sequence. */
const SHOWN = '\\x1b[2J\\x1b]0;pwned\\x07';

let session = 0;
/**
 * Start `agentctl <args>` in a fresh 80×24 tmux session; the pane prints `EXITED:<code>` when it ends.
 * @param shell the command line around agentctl (`$AGENTCTL` is replaced), e.g. `$AGENTCTL review | cat`
 */
function start(repo: string, home: string, shell: string, env: Record<string, string> = { NO_COLOR: '1' }): string {
  const name = `s${++session}`;
  const vars = Object.entries({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'xterm-256color', AGENTCTL_HOME: home, ...env }).map(([k, v]) => `${k}='${v}'`);
  const line = `${shell.replace('$AGENTCTL', `env -i ${vars.join(' ')} '${process.execPath}' '${BIN}'`)}; echo EXITED:$?; sleep 600`;
  const r = tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', '-c', repo, line);
  expect(r.status, r.stderr).toBe(0);
  return name;
}

const screen = (name: string, escapes = false): string => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name).stdout;

/** Wait until the screen shows `text` (the app draws after its own start-up; keys are sent only then). */
async function waitFor(name: string, text: string | RegExp, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const s = screen(name);
    if (typeof text === 'string' ? s.includes(text) : text.test(s)) return s;
    if (Date.now() > end) throw new Error(`screen never showed ${String(text)}; it shows:\n${s}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const keys = (name: string, ...k: string[]) => expect(tmux('send-keys', '-t', name, ...k).status).toBe(0);

describe('agentctl review on a terminal', () => {
  let repo: string;
  let home: string;
  const runsOf = async () => JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs as { runId: string; task: string; state: string }[];

  beforeAll(async () => {
    ({ repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': AGENT,
      'tasks/alpha.md': taskFile({ agent: 'command', type: 'docs', gate: 'true' }, 'alpha'),
      'tasks/beta.md': taskFile({ agent: 'command', type: 'docs', gate: 'false' }, 'beta'),
    }));
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    for (const t of ['alpha', 'beta']) await agentctl(repo, home, ['run', t]);
    expect((await runsOf()).map((r) => [r.task, r.state]).sort()).toEqual([
      ['alpha', 'awaiting_review'],
      ['beta', 'awaiting_review'],
    ]);
  }, 120_000);

  it('when stdout is not a terminal, review prints the plain table as before (stdin a terminal or not)', async () => {
    const piped = await agentctl(repo, home, ['review']);
    expect(piped.code, piped.stderr).toBe(0);
    const lines = piped.stdout.split('\n');
    expect(lines[0]).toMatch(/^RUN +TASK +AGENT +STATE +FILES +\+\/- +GATE +SCOPE$/);
    expect(lines[1]).toMatch(/^\w{26} +alpha +command +awaiting_review +2 +\+61 -0 +passed +ok$/);
    expect(lines[2]).toMatch(/^\w{26} +beta +command +awaiting_review +2 +\+61 -0 +failed +ok$/);
    expect(lines.slice(3)).toEqual(['', 'Show one with: agentctl review show <run>', '']);
    // stdin is the terminal, stdout a pipe: still the table, no screen.
    const s = start(repo, home, '$AGENTCTL review | cat');
    const shown = await waitFor(s, 'EXITED:0');
    expect(shown).toMatch(/RUN +TASK +AGENT +STATE/);
    expect(shown).toContain('Show one with: agentctl review show <run>');
    expect(shown).not.toContain('Gate failed');
  });

  it('shows the queue grouped with its columns, colorless under NO_COLOR, agent text escaped; q quits and restores the terminal', async () => {
    const s = start(repo, home, 'S=$(stty -g); $AGENTCTL review; X=$?; [ "$S" = "$(stty -g)" ] && echo TTY-RESTORED; (exit $X)');
    const list = await waitFor(s, 'Ready (1)');
    const rows = list.split('\n');
    const at = (re: RegExp) => rows.findIndex((l) => re.test(l));
    expect(at(/^Gate failed \(1\)/)).toBeGreaterThanOrEqual(0);
    expect(at(/^> beta +[0-9a-z]{6} +command +2f \+61 -0 +failed +0\.70/)).toBe(at(/^Gate failed/) + 1);
    expect(at(/^ {2}alpha +[0-9a-z]{6} +command +2f \+61 -0 +passed +0\.70/)).toBe(at(/^Ready \(1\)/) + 1);
    expect(screen(s, true)).not.toMatch(/\u001b\[(3\d|4\d|7|1|4)m/);
    keys(s, 'Enter');
    const detail = await waitFor(s, 'file 1/2: docs/beta.md');
    // Nothing scrolled off the top: the screen fits the 24 lines.
    expect(detail.split('\n')[0]).toBe('beta — beta');
    expect(detail).toMatch(/^j\/k line .* q back$/m);
    expect(detail).toContain(`Summary: summary of beta ${SHOWN} end`);
    expect(detail).toContain(`docs/evil${SHOWN}.md  +1 -0`);
    expect(detail).toContain('+line 1 of beta');
    // The agent's OSC never reached the terminal: the pane title is not its text.
    expect(tmux('display-message', '-p', '-t', s, '#{pane_title}').stdout).not.toContain('pwned');
    keys(s, 'Space');
    const paged = await waitFor(s, /file 1\/2: docs\/beta\.md  \(lines 13-25 of 66\)/);
    expect(paged).toContain('+line 19 of beta');
    expect(paged).not.toContain('+line 1 of beta\n');
    keys(s, 'l');
    await waitFor(s, `file 2/2: docs/evil${SHOWN}.md`);
    for (const line of screen(s).split('\n')) expect([...line].length).toBeLessThanOrEqual(80);
    keys(s, 'q');
    await waitFor(s, 'Gate failed (1)');
    keys(s, 'q');
    const after = await waitFor(s, 'EXITED:0');
    expect(after).toContain('TTY-RESTORED');
    expect(after).not.toContain('Gate failed');
  });

  it('with colors on, the failed gate is red', async () => {
    const s = start(repo, home, '$AGENTCTL review', { FORCE_COLOR: '1' });
    await waitFor(s, 'Ready (1)');
    expect(screen(s, true)).toMatch(/\u001b\[31mfailed/);
    keys(s, 'j');
    await waitFor(s, '> alpha');
    keys(s, 'C-c');
    await waitFor(s, 'EXITED:0');
  });

  it('SIGTERM ends the review the way q does: main screen back, terminal modes restored, exit 0', async () => {
    const s = start(repo, home, 'echo MAIN-SCREEN; S=$(stty -g); $AGENTCTL review; X=$?; [ "$S" = "$(stty -g)" ] && echo TTY-RESTORED; (exit $X)');
    await waitFor(s, 'Ready (1)');
    const shell = tmux('display-message', '-p', '-t', s, '#{pane_pid}').stdout.trim();
    const pid = spawnSync('pgrep', ['-P', shell], { encoding: 'utf8' }).stdout.trim().split('\n')[0]!;
    expect(spawnSync('ps', ['-o', 'args=', '-p', pid], { encoding: 'utf8' }).stdout).toContain('review');
    process.kill(Number(pid), 'SIGTERM');
    const after = await waitFor(s, 'EXITED:0');
    expect(after).toContain('MAIN-SCREEN');
    expect(after).toContain('TTY-RESTORED');
    expect(after).not.toContain('Gate failed');
  });

  it('d then n leaves the run awaiting review; m then y on the other merges it', async () => {
    const s = start(repo, home, '$AGENTCTL review');
    await waitFor(s, '> beta');
    keys(s, 'd');
    await waitFor(s, /Discard beta \(run \w+\)\? y to confirm/);
    keys(s, 'n');
    await waitFor(s, 'discard cancelled');
    keys(s, 'j');
    await waitFor(s, '> alpha');
    keys(s, 'Enter');
    await waitFor(s, 'file 1/2: docs/alpha.md');
    keys(s, 'm');
    await waitFor(s, /Merge alpha \(run \w+\)\? y to confirm/);
    expect((await runsOf()).find((r) => r.task === 'alpha')?.state).toBe('awaiting_review');
    keys(s, 'y');
    const merged = await waitFor(s, /Merged alpha \(run \w+\) into main as [0-9a-f]{10}\./);
    expect(merged).not.toMatch(/^. alpha/m);
    keys(s, 'C-c');
    await waitFor(s, 'EXITED:0');
    const runs = await runsOf();
    expect(runs.find((r) => r.task === 'alpha')?.state).toBe('merged');
    expect(runs.find((r) => r.task === 'beta')?.state).toBe('awaiting_review');
    expect(git(repo, 'log', '-1', '--format=%s')).toMatch(/^agentctl: merge alpha/);
  });

  it('c opens $EDITOR on a comments file; its text (comment lines dropped) sends the run back as attempt 2 with that note', async () => {
    const editor = join(home, '..', 'editor.sh');
    writeFileSync(editor, '#!/bin/sh\nprintf "%s\\n" "# a comment line" "please make the gate pass" > "$1"\n');
    chmodSync(editor, 0o755);
    const beta = (await runsOf()).find((r) => r.task === 'beta')!;
    const s = start(repo, home, '$AGENTCTL review', { NO_COLOR: '1', EDITOR: editor });
    await waitFor(s, '> beta');
    keys(s, 'c');
    await waitFor(s, /Sent beta \(run \w+\) back to command with your note\./, 90_000);
    keys(s, 'q');
    await waitFor(s, 'EXITED:0');
    const shown = JSON.parse((await agentctl(repo, home, ['review', 'show', beta.runId, '--json'])).stdout);
    const attempts = (shown.run ?? shown).attempts as { note?: string }[];
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.note).toBe('please make the gate pass');
    const log = JSON.parse((await agentctl(repo, home, ['log', '--run', beta.runId, '--json'])).stdout).events as { type: string }[];
    expect(log.filter((e) => e.type === 'run.attempt_started')).toHaveLength(1);
    expect((await runsOf()).find((r) => r.task === 'beta')?.state).toBe('awaiting_review');
  });
});

describe('agentctl review on a terminal: an attempt in progress when the human leaves', () => {
  it('leaving the screen waits for the agent sent back with c; Ctrl-C then stops it and the attempt is recorded interrupted', async () => {
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      // Attempt 1 writes a file; an attempt sent back (its prompt says so) works for a long time.
      'agent.sh': '#!/bin/sh\nif printf "%s" "$AGENTCTL_PROMPT" | grep -q "Changes requested"; then sleep 300; fi\nmkdir -p docs\necho one > docs/one.md\necho done\n',
      'tasks/slow.md': taskFile({ agent: 'command', type: 'docs', gate: 'true' }, 'slow'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    await agentctl(repo, home, ['run', 'slow']);
    const editor = join(home, '..', 'editor-slow.sh');
    writeFileSync(editor, '#!/bin/sh\necho "take your time" > "$1"\n');
    chmodSync(editor, 0o755);
    const s = start(repo, home, '$AGENTCTL review', { NO_COLOR: '1', EDITOR: editor });
    await waitFor(s, '> slow');
    keys(s, 'c');
    await waitFor(s, 'sending the run back to its agent');
    // Let the attempt start its agent, then leave the screen: agentctl waits for the attempt.
    const runs = async () => JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs as { runId: string; state: string }[];
    for (let i = 0; i < 100 && (await runs())[0]?.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 300));
    expect((await runs())[0]?.state).toBe('running');
    // While an action runs the screen takes only Ctrl-C, which leaves it; agentctl then waits.
    keys(s, 'C-c');
    await waitFor(s, 'waiting for the action in progress to finish');
    keys(s, 'C-c');
    await waitFor(s, 'EXITED:0', 60_000);
    const [run] = await runs();
    const events = JSON.parse((await agentctl(repo, home, ['log', '--run', run!.runId, '--json'])).stdout).events as { type: string }[];
    expect(events.map((e) => e.type)).toContain('run.interrupted');
    expect(run!.state).not.toBe('running');
  }, 180_000);
});
