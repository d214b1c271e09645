/**
 * Terminal safety end to end (issue 9, findings 5 and 10): a hostile `command` agent puts a screen
 * clear, a window-title OSC, a C1 CSI and a U+202E override into its summary, a file name, the diff,
 * its reasoning trace, a follow-up title and the handover; a person's --note / --reason carries a
 * newline and ESC. Every printer shows them visibly (no raw byte reaches the terminal, the scope
 * violation stays on screen, no line is forged), and every --json printer round-trips them exactly.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentctl, approveRepo, cleanup, git, makeRepo, taskFile, tempDir } from '../helpers.js';

// The first describe shares one run between its tests: temp dirs go when the file is done.
afterAll(cleanup);

const ESC = '\u001b';
/** Screen clear + cursor home, a window-title OSC ended by BEL, a C1 CSI (U+009B), a right-to-left override. */
const ATTACK = `${ESC}[2J${ESC}[H${ESC}]0;pwned\u0007\u009b31m\u202e`;
/** How terminalSafe shows ATTACK (src/ui/terminal.ts). */
const SHOWN = '\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\x9b31m\\u202e';
/** A note that tries to forge a log line and clear the screen. */
const NOTE = `fine\n#999 2099-01-01 00:00:00 run.merged        everything is fine ${ESC}[2J`;
const NOTE_SHOWN = 'fine\\n#999 2099-01-01 00:00:00 run.merged        everything is fine \\x1b[2J';

/** No byte a terminal would act on: ESC, BEL, C1 controls, bidi controls. */
function expectNoRaw(text: string, what: string): void {
  const found = [...text].filter((c) => /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(c));
  // Soft: a failure names every printer that leaked, not just the first.
  expect.soft(found.map((c) => `U+${c.codePointAt(0)!.toString(16).padStart(4, '0')}`), what).toEqual([]);
}

/** JSON text whose strings hold no raw DEL/C1/bidi character (JSON.stringify already escapes C0). */
function parseSafeJson(text: string, what: string): any {
  expectNoRaw(text.replace(/\n/g, ''), `${what} (raw JSON text)`);
  return JSON.parse(text);
}

/** The hostile agent, in sh: printf octal escapes make the raw bytes (U+009B is \302\233, U+202E is \342\200\256 in UTF-8). */
const AGENT = `#!/bin/sh
A=$(printf '\\033[2J\\033[H\\033]0;pwned\\007\\302\\23331m\\342\\200\\256')
mkdir -p docs
printf 'clean line\\n+ hidden %s line\\n' "$A" > "docs/note$A.md"
echo "all:" > Makefile
printf '%s\\n' '{"observed":"o\\u001b[2J\\u001b[H\\u001b]0;pwned\\u0007\\u009b31m\\u202e","considered":["c\\u202e"],"decided":"d\\u001b[2J\\u001b[H\\u001b]0;pwned\\u0007\\u009b31m\\u202e","confidence":0.9}' >> .agentctl/trace.jsonl
printf '%s\\n' '{"id":"child-task","title":"t\\u001b[2J\\u001b[H\\u001b]0;pwned\\u0007\\u009b31m\\u202e","prompt":"x","type":"docs"}' >> .agentctl/followups.jsonl
printf 'next time %s\\n' "$A" > .agentctl/handover.md
printf 'summary %s end\\n' "$A"
`;

function hostileRepo() {
  // The repository's notifier (a program outside it) fails, printing the same bytes on stderr (agentctl prints that line).
  const notifier = join(tempDir(), 'notify.sh');
  writeFileSync(notifier, `#!/bin/sh\ncat > /dev/null\nA=$(printf '\\033[2J\\033[H\\033]0;pwned\\007\\302\\23331m\\342\\200\\256')\necho "refused: $A" >&2\nexit 1\n`);
  chmodSync(notifier, 0o755);
  const made = makeRepo({
    '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\nnotify:\n  command: ${notifier}\n`,
    'agent.sh': AGENT,
    'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 't'),
  });
  chmodSync(join(made.repo, 'agent.sh'), 0o755);
  git(made.repo, 'add', '-A');
  git(made.repo, 'commit', '-qm', 'agent');
  return made;
}

describe('agent text reaches the terminal made visible', () => {
  let repo: string;
  let home: string;
  let runId: string;
  let runOutput: { stdout: string; stderr: string };

  beforeAll(async () => {
    ({ repo, home } = hostileRepo());
    approveRepo(repo, home); // its notify.command
    const r = await agentctl(repo, home, ['run', 't']);
    runOutput = r;
    runId = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs[0].runId;
  }, 60_000);

  it('review show, tasks, log, runs, review and run print no raw control byte and keep the scope violation on screen', async () => {
    expectNoRaw(runOutput.stdout + runOutput.stderr, 'run');
    expect.soft(runOutput.stderr).toContain(`/notify.sh failed: exit 1: refused: ${SHOWN}`);
    const show = await agentctl(repo, home, ['review', 'show', runId]);
    expect(show.code, show.stderr).toBe(0);
    expectNoRaw(show.stdout, 'review show');
    expect.soft(show.stdout).toContain(`summary ${SHOWN} end`);
    expect.soft(show.stdout).toContain(`docs/note${SHOWN}.md`);
    expect.soft(show.stdout).toContain(`+ hidden ${SHOWN} line`);
    expect.soft(show.stdout).toContain(`decided: d${SHOWN}`);
    expect.soft(show.stdout).toContain(`observed: o${SHOWN}`);
    expect.soft(show.stdout).toContain(`next time ${SHOWN}`);
    const scope = show.stdout.split('\n').slice(show.stdout.split('\n').indexOf('Scope'));
    expect.soft(scope[1]).toMatch(/^ {2}Makefile: /);

    const tasks = await agentctl(repo, home, ['tasks']);
    expectNoRaw(tasks.stdout + tasks.stderr, 'tasks');
    expect.soft(tasks.stdout).toMatch(new RegExp(`child-task .* t${SHOWN.replace(/[\\[\]]/g, '\\$&')}`));

    const log = await agentctl(repo, home, ['log']);
    expectNoRaw(log.stdout, 'log');
    expect.soft(log.stdout).toContain(`follow-up requested: child-task "t${SHOWN}"`);
    expect.soft(log.stdout).toMatch(/scope violation: Makefile/);

    for (const args of [['runs'], ['review'], ['log', '--run', runId]]) {
      const r = await agentctl(repo, home, args);
      expect(r.code, r.stderr).toBe(0);
      expectNoRaw(r.stdout + r.stderr, args.join(' '));
    }
  });

  it('--json output parses back to the exact strings the agent wrote, with DEL/C1/bidi escaped', async () => {
    const show = parseSafeJson((await agentctl(repo, home, ['review', 'show', runId, '--json'])).stdout, 'review show --json');
    expect(show.run.summary).toBe(`summary ${ATTACK} end`);
    expect(show.run.files.map((f: { path: string }) => f.path)).toContain(`docs/note${ATTACK}.md`);
    expect(show.diff).toContain(`+ hidden ${ATTACK} line`);
    expect(show.run.reasoning[0]).toMatchObject({ decided: `d${ATTACK}`, observed: `o${ATTACK}`, considered: ['c\u202e'] });
    expect(show.run.handover).toBe(`next time ${ATTACK}\n`);
    expect(show.run.scopeViolations.map((v: { path: string }) => v.path)).toContain('Makefile');

    const tasks = parseSafeJson((await agentctl(repo, home, ['tasks', '--json'])).stdout, 'tasks --json');
    expect(tasks.tasks.find((t: { id: string }) => t.id === 'child-task').title).toBe(`t${ATTACK}`);
    const runs = parseSafeJson((await agentctl(repo, home, ['runs', '--json'])).stdout, 'runs --json');
    expect(runs.runs[0].summary).toBe(`summary ${ATTACK} end`);
    const log = parseSafeJson((await agentctl(repo, home, ['log', '--json'])).stdout, 'log --json');
    expect(log.events.find((e: { type: string }) => e.type === 'task.requested').payload.title).toBe(`t${ATTACK}`);
  });
});

describe('a person’s note is untrusted too', () => {
  it('--reason / --note with a newline and ESC print on one line in log, trust history and breakers; --json keeps them exact', async () => {
    const { repo, home } = hostileRepo();
    approveRepo(repo, home); // its notify.command
    await agentctl(repo, home, ['run', 't']);
    const runId = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs[0].runId;
    for (const args of [
      ['review', 'discard', runId, '--reason', NOTE],
      ['promote', 'command', '--type', 'docs', '--to', 'review', '--force', '--note', NOTE],
      ['demote', 'command', '--type', 'docs', '--reason', NOTE],
      ['halt', '--reason', NOTE],
    ]) {
      const r = await agentctl(repo, home, args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0);
      expectNoRaw(r.stdout + r.stderr, args[0]!);
    }
    const breakers = await agentctl(repo, home, ['breakers']);
    expectNoRaw(breakers.stdout, 'breakers');
    expect.soft(breakers.stdout).toContain(NOTE_SHOWN);
    expect((await agentctl(repo, home, ['resume', '--note', NOTE])).code).toBe(0);

    const events = parseSafeJson((await agentctl(repo, home, ['log', '--json'])).stdout, 'log --json').events as { type: string; payload: Record<string, unknown> }[];
    const notes = events.filter((e) => [e.payload.note, e.payload.reason].includes(NOTE)).map((e) => e.type);
    expect(notes.sort()).toEqual(['review.rejected', 'run.discarded', 'system.halted', 'system.resumed', 'trust.demoted', 'trust.promoted']);

    const log = await agentctl(repo, home, ['log']);
    expectNoRaw(log.stdout, 'log');
    const lines = log.stdout.trimEnd().split('\n');
    // One line per event, each starting with its own sequence number: the note forged none.
    expect.soft(lines).toHaveLength(events.length);
    expect.soft(lines.filter((l) => l.startsWith('#999'))).toEqual([]);
    expect.soft(lines.filter((l) => l.includes(NOTE_SHOWN))).toHaveLength(notes.length);

    const history = await agentctl(repo, home, ['trust', 'history']);
    expectNoRaw(history.stdout, 'trust history');
    const hl = history.stdout.split('\n');
    expect.soft(hl.filter((l) => l.trim().startsWith('#999'))).toEqual([]);
    expect.soft(hl.filter((l) => l.includes(NOTE_SHOWN) && /promotion|demotion/.test(l))).toHaveLength(2);
    const trust = parseSafeJson((await agentctl(repo, home, ['trust', 'history', '--json'])).stdout, 'trust history --json');
    expect(trust.profiles[0].history.filter((h: { reason: string }) => h.reason === NOTE)).toHaveLength(2);
  }, 60_000);
});
