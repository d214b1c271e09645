/**
 * `agentctl review request-changes`: review → request changes → attempt 2 → merge, through the built
 * bin/agentctl on temp repositories, with the scripted Claude Code stand-in (which keeps real sessions
 * in its per-run config dir and must be resumed by the id it printed) and with a `command` agent (which
 * gets the notes and the diff in its prompt). Bad input changes nothing; an agent's forged session id
 * never reaches a command line; agent text is printed escaped.
 */
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentctl, approveRepo, BIN, cleanup, git, makeRepo, tagged, taggedSleep, taskFile, tempDir, waitFor, writeFiles } from '../helpers.js';

afterEach(cleanup);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const json = async (repo: string, home: string, args: string[]): Promise<Json> => {
  const r = await agentctl(repo, home, [...args, '--json']);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Json;
};
const runIdOf = async (repo: string, home: string, task: string): Promise<string> => (await json(repo, home, ['runs'])).runs.find((r: Json) => r.task === task).runId;
const eventsOf = async (repo: string, home: string, runId: string): Promise<Json[]> => (await json(repo, home, ['log', '--run', runId])).events;

const block = (tag: string, ...steps: object[]) => `\`\`\`${tag}\n${steps.map((s) => JSON.stringify(s)).join('\n')}\n\`\`\``;

describe('request changes with the scripted Claude Code stand-in', () => {
  it('resumes the session it printed, in the same worktree; the run awaits review again, merges, and counts as merged after changes', async () => {
    const { repo, home } = makeRepo({
      'tasks/greet.md': taskFile(
        { title: 'Add a greeting', type: 'feature', gate: 'grep -q hello docs/greet.md' },
        `Add docs/greet.md.\n\n${block('agent-script', { write: 'docs/greet.md', content: 'hello\n' }, { say: 'Added docs/greet.md.' })}\n\n${block('agent-script-resume', { append: 'docs/greet.md', content: 'hello again\n' }, { say: 'Said it twice \u001b[2J\u001b]0;pwned\u0007' })}`,
      ),
    });
    expect((await agentctl(repo, home, ['run', 'greet'])).code).toBe(0);
    const runId = await runIdOf(repo, home, 'greet');
    const first = (await eventsOf(repo, home, runId)).filter((e) => e.type === 'agent.exited');
    const session = first[0].payload.sessionId as string;
    expect(session).toMatch(/^[0-9a-f-]{36}$/);

    const rc = await agentctl(repo, home, ['review', 'request-changes', runId.slice(0, 8), '--note', 'Say hello twice', '--json']);
    expect(rc.code, rc.stderr).toBe(0);
    const out = JSON.parse(rc.stdout) as Json;
    expect(out).toMatchObject({ runId, attempt: 2, resumed: session, state: 'awaiting_review' });

    // The second launch resumed exactly the captured session; the first started one.
    const events = await eventsOf(repo, home, runId);
    const launches = events.filter((e) => e.type === 'agent.launched').map((e) => e.payload.args as string[]);
    expect(launches).toHaveLength(2);
    expect(launches[0]).not.toContain('--resume');
    expect(launches[1].slice(launches[1].indexOf('--resume'), launches[1].indexOf('--resume') + 2)).toEqual(['--resume', session]);
    expect(events.map((e) => e.type)).toContain('review.changes_requested');
    expect(events.find((e) => e.type === 'review.changes_requested').payload).toMatchObject({ attempt: 2, note: 'Say hello twice', by: 'dev@example.com' });
    // The stand-in found its session by that id (it runs the saved prompt's resume block only then).
    expect(git(repo, 'show', `agentctl/greet/${runId}:docs/greet.md`)).toBe('hello\nhello again');

    const shown = (await json(repo, home, ['review', 'show', runId])).run;
    expect(shown.attempts).toHaveLength(2);
    expect(shown.attempts[0]).toMatchObject({ attempt: 1, sessionId: session, decision: 'review', gate: { passed: true } });
    expect(shown.attempts[1]).toMatchObject({ attempt: 2, note: 'Say hello twice', by: 'dev@example.com', resumed: session, decision: 'review', gate: { passed: true } });
    const plain = await agentctl(repo, home, ['review', 'show', runId]);
    expect(plain.stdout).toContain('changes requested by dev@example.com');
    expect(plain.stdout).toContain('Say hello twice');
    // The agent's summary is shown, escaped: no raw ESC or BEL reaches the terminal.
    expect(plain.stdout).toContain('Said it twice \\x1b[2J');
    expect(plain.stdout).not.toMatch(/[\u001b\u0007]/);
    expect(rc.stderr).not.toMatch(/[\u001b\u0007]/);

    expect((await agentctl(repo, home, ['review', 'merge', runId])).code).toBe(0);
    expect(git(repo, 'show', 'main:docs/greet.md')).toBe('hello\nhello again');
    const promote = await json(repo, home, ['promote']);
    const profile = promote.profiles.find((p: Json) => p.agent === 'claude' && p.taskType === 'feature');
    expect(profile.evidence).toMatchObject({ merged: 1, mergedFirstTime: 0, mergedAfterChanges: 1, roundsPerMerged: 2, consecutiveMerged: 0, approvedUnmodifiedRate: 0 });
    expect(profile.merges).toEqual([{ runId, rounds: 2, afterChanges: true, unsandboxed: false }]);
  });

  it('a session id the agent forged as an option never reaches the command line: the next attempt starts fresh', async () => {
    // A "claude" that prints a session id meant to be read as a flag, and records the argv it got.
    const fake = `#!/bin/sh\nmkdir -p docs\nn=$(ls docs | wc -l)\nprintf '%s\\n' "$@" > "docs/argv-$n.txt"\necho '{"type":"system","subtype":"init","session_id":"--dangerously-skip-permissions"}'\necho '{"type":"result","subtype":"success","is_error":false,"result":"ok"}'\n`;
    const { repo, home } = makeRepo({ '.agentrc.yaml': 'agents:\n  claude:\n    bin: ./fake-claude.sh\n', 'fake-claude.sh': fake, 'tasks/forge.md': taskFile({ type: 'docs' }, 'forge a session') });
    chmodSync(join(repo, 'fake-claude.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'fake');
    approveRepo(repo, home); // a Claude Code program of the repository's own gets the API key
    await agentctl(repo, home, ['run', 'forge']);
    const runId = await runIdOf(repo, home, 'forge');
    expect((await eventsOf(repo, home, runId)).find((e) => e.type === 'agent.exited').payload.sessionId).toBeNull();
    const rc = await agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'again', '--json']);
    expect(rc.code, rc.stderr).toBe(0);
    expect(JSON.parse(rc.stdout)).toMatchObject({ attempt: 2, resumed: null });
    // One argument a line (the prompt spans several).
    const text = git(repo, 'show', `agentctl/forge/${runId}:docs/argv-1.txt`);
    const argv = text.split('\n');
    expect(argv).not.toContain('--dangerously-skip-permissions');
    expect(argv).not.toContain('--resume');
    // A fresh session: the whole story is in the prompt (-p), with the notes.
    const prompt = text.slice(text.indexOf('-p\n'));
    expect(prompt).toContain('forge a session');
    expect(prompt).toContain('## Review notes for attempt 2\n\nagain');
  });
});

describe('request changes with a command agent', () => {
  // Writes the prompt it got on stdin to docs/prompt-<n>.md (n = files already there).
  const AGENT = '#!/bin/sh\nmkdir -p docs\nn=$(ls docs | wc -l)\ncat > "docs/prompt-$n.md"\necho "wrote docs/prompt-$n.md"\n';

  it('gets the task, the notes (--note then --file) and the diff in its prompt; bad input changes nothing', async () => {
    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': AGENT,
      'tasks/notes.md': taskFile({ agent: 'command', type: 'docs', gate: 'test -f docs/prompt-0.md' }, 'write-notes\nWrite the notes.'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    await agentctl(repo, home, ['run', 'notes']);
    const runId = await runIdOf(repo, home, 'notes');
    const comments = join(tempDir(), 'comments.md');
    writeFiles(join(comments, '..'), { 'comments.md': 'Also add a title line.\n' });

    // Bad input: nothing is recorded for the run, the worktree's branch does not move.
    const count = async () => (await eventsOf(repo, home, runId)).length;
    const head = () => git(repo, 'rev-parse', `agentctl/notes/${runId}`);
    const before = { events: await count(), head: head() };
    const bad: [string[], number, RegExp, Record<string, string>?][] = [
      [['review', 'request-changes', 'nosuchrun', '--note', 'x'], 2, /no run "nosuchrun"/],
      [['review', 'request-changes', runId, '--note', '   '], 2, /notes are empty/],
      [['review', 'request-changes', runId], 2, /--note/],
      [['review', 'request-changes', runId, '--note', 'x', '--file', 'missing.md'], 2, /cannot read --file missing\.md: ENOENT/],
      [['review', 'request-changes', runId, '--note', 'x'], 5, /human decision.*refused from inside a run/, { AGENTCTL_RUN_ID: 'x' }],
    ];
    for (const [args, code, message, env] of bad) {
      const r = await agentctl(repo, home, args, env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr).toMatch(message);
    }
    // Refused by state, whatever the notes: halted; the agent demoted to hold (never unattended); the
    // policy now turning the OS sandbox off (every attempt runs as the first did).
    const refusedWith = async (message: RegExp) => {
      const r = await agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'x']);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(message);
    };
    expect((await agentctl(repo, home, ['halt', '--reason', 'test'])).code).toBe(0);
    await refusedWith(/agentctl is halted/);
    expect((await agentctl(repo, home, ['resume'])).code).toBe(0);
    expect((await agentctl(repo, home, ['demote', 'command', '--type', 'docs', '--to', 'hold', '--reason', 'test'])).code).toBe(0);
    await refusedWith(/may only be driven by a human.*never starts an agent on it unattended/);
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'review', '--force'])).code).toBe(0);
    writeFiles(repo, { '.agentctl/profiles/open.yaml': 'description: no OS sandbox\nextends: implement\nsandbox: none\n', 'tasks/notes.md': taskFile({ agent: 'command', type: 'docs', gate: 'test -f docs/prompt-0.md', profile: 'open' }, 'write-notes\nWrite the notes.') });
    approveRepo(repo, home); // the open profile's sandbox: none
    await refusedWith(/ran in the OS sandbox and its policy now says sandbox: none/);
    git(repo, 'checkout', '--', 'tasks/notes.md');
    git(repo, 'clean', '-fdq', '.agentctl');
    expect({ events: await count(), head: head() }).toEqual(before);

    const rc = await agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'Use a heading.', '--file', comments, '--json']);
    expect(rc.code, rc.stderr).toBe(0);
    expect(JSON.parse(rc.stdout)).toMatchObject({ attempt: 2, resumed: null, state: 'awaiting_review' });
    const prompt = git(repo, 'show', `agentctl/notes/${runId}:docs/prompt-1.md`);
    expect(prompt.split('\n')[0]).toBe('write-notes');
    expect(prompt).toContain('Write the notes.');
    expect(prompt.indexOf('Use a heading.')).toBeGreaterThan(-1);
    expect(prompt.indexOf('Also add a title line.')).toBeGreaterThan(prompt.indexOf('Use a heading.'));
    expect(prompt).toContain('diff --git a/docs/prompt-0.md b/docs/prompt-0.md');
    expect(prompt).toContain('wrote docs/prompt-0.md'); // attempt 1's summary, retold

    const shown = (await json(repo, home, ['review', 'show', runId])).run;
    expect(shown.attempts.map((a: Json) => [a.attempt, a.note ?? null, a.resumed ?? null, a.files.length])).toEqual([
      [1, null, null, 1],
      [2, 'Use a heading.\n\nAlso add a title line.', null, 2],
    ]);
    expect((await agentctl(repo, home, ['review', 'merge', runId])).code).toBe(0);
    const profile = (await json(repo, home, ['promote'])).profiles.find((p: Json) => p.agent === 'command');
    expect(profile.evidence).toMatchObject({ mergedAfterChanges: 1, mergedFirstTime: 0 });
    expect(profile.merges).toEqual([{ runId, rounds: 2, afterChanges: true, unsandboxed: false }]);

    // A merged run cannot be sent back.
    const merged = { events: await count() };
    const r = await agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'more']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/is merged, not awaiting review/);
    expect({ events: await count() }).toEqual(merged);
  });
});

describe('an attempt has its own owner', () => {
  it('a live attempt 2 is left alone by other commands; after kill -9 of request-changes the next command closes it and kills its agent', async () => {
    const tag = `agentctl-rc-${process.pid}-${Date.now()}`;
    // Attempt 1 writes a file; attempt 2 (docs/ already has it) works "forever".
    const agent = `#!/bin/sh\nmkdir -p docs\nif [ -n "$(ls docs)" ]; then echo wip > docs/wip.md; ${taggedSleep(tag)} & wait; else echo one > docs/one.md; fi\n`;
    const { repo, home } = makeRepo({ '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n', 'agent.sh': agent, 'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 'slow second attempt') });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    await agentctl(repo, home, ['run', 't']);
    const runId = await runIdOf(repo, home, 't');
    const child = spawn(process.execPath, [BIN, 'review', 'request-changes', runId, '--note', 'more'], { cwd: repo, env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENTCTL_HOME: home, CI: '1' }, stdio: 'ignore' });
    const closed = new Promise((r) => child.on('close', r));
    expect(await waitFor(() => tagged(tag).length === 1)).toBe(true);
    // Attempt 1's agentctl is long gone, but attempt 2's is alive: the run is running, not orphaned.
    const during = (await json(repo, home, ['runs'])).runs.find((r: Json) => r.runId === runId);
    expect(during.state).toBe('running');
    child.kill('SIGKILL');
    await closed;
    const after = (await json(repo, home, ['review'])).runs.find((r: Json) => r.runId === runId);
    expect(after).toMatchObject({ state: 'interrupted', sandboxLive: true });
    expect(await waitFor(() => tagged(tag).length === 0, 5000), `left: ${tagged(tag).join(', ')}`).toBe(true);
    const interrupted = (await eventsOf(repo, home, runId)).filter((e) => e.type === 'run.interrupted');
    expect(interrupted).toHaveLength(1);
    expect(interrupted[0].payload).toMatchObject({ recovered: true, killedAgent: true });
    expect(interrupted[0].key).toBe(`recovered:${runId}:2`);
  });
});

describe('two requests at once', () => {
  it('only one becomes attempt 2; the other is refused and records nothing', async () => {
    const agent = '#!/bin/sh\nmkdir -p docs\nn=$(ls docs | wc -l)\necho "$n" > "docs/a-$n.md"\n[ "$n" -gt 0 ] && sleep 2\necho done\n';
    const { repo, home } = makeRepo({ '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n', 'agent.sh': agent, 'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 'race') });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    await agentctl(repo, home, ['run', 't']);
    const runId = await runIdOf(repo, home, 't');
    const results = await Promise.all([agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'one']), agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'two'])]);
    expect(results.map((r) => r.code).sort(), results.map((r) => r.stderr).join('\n')).toEqual([0, 5]);
    const events = await eventsOf(repo, home, runId);
    expect(events.filter((e) => e.type === 'review.changes_requested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'agent.launched')).toHaveLength(2);
  });
});

describe('the worktree bootstrap in a later attempt', () => {
  it('shared paths are linked again (attempt 1 unlinked them) and a fresh block of ports is leased', async () => {
    const agent = '#!/bin/sh\nmkdir -p docs\nn=$(ls docs | wc -l)\necho "$AGENTCTL_PORT" > "docs/port-$n.md"\ntest -f node_modules/dep/index.js && echo "dep seen"\n';
    const { repo, home } = makeRepo({
      '.gitignore': 'node_modules/\n',
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\nworktree:\n  shared: [node_modules]\n',
      'agent.sh': agent,
      'tasks/t.md': taskFile({ agent: 'command', type: 'docs', gate: 'test -f node_modules/dep/index.js' }, 'uses a dependency'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');
    writeFiles(repo, { 'node_modules/dep/index.js': 'module.exports = 1;\n' });
    approveRepo(repo, home); // its worktree.shared
    await agentctl(repo, home, ['run', 't']);
    const runId = await runIdOf(repo, home, 't');
    const rc = await agentctl(repo, home, ['review', 'request-changes', runId, '--note', 'again', '--json']);
    expect(rc.code, rc.stderr).toBe(0);
    const run = JSON.parse(rc.stdout).run as Json;
    expect(run.attempts.map((a: Json) => a.gate?.passed)).toEqual([true, true]);
    expect(run.summary).toBe('dep seen');
    const boots = (await eventsOf(repo, home, runId)).filter((e) => e.type === 'worktree.bootstrapped');
    expect(boots.map((e) => e.payload.linked)).toEqual([['node_modules'], ['node_modules']]);
    expect(git(repo, 'show', `agentctl/t/${runId}:docs/port-1.md`)).toBe(String(boots[1]!.payload.ports.first));
    expect(git(repo, 'ls-tree', '-r', '--name-only', `agentctl/t/${runId}`)).not.toContain('node_modules');
  });
});
