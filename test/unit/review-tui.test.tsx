/**
 * The interactive review's screens (src/ui/review/) through ink-testing-library: grouping, moving,
 * opening a run and scrolling its diff, the y-confirm of merge and discard, request changes and ask,
 * the 80×24 fit, and that agent text with escape sequences reaches the screen only escaped.
 */
import chalk from 'chalk';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { groupRuns, splitDiff, unquote, type ReviewActions, type ReviewRun } from '../../src/ui/review/model.js';
import { ReviewApp, type ReviewOutcome } from '../../src/ui/review/ReviewApp.js';
import { infoLines } from '../../src/ui/review/RunDetail.js';

// No color: every ESC left in a frame came from the data, not from ink's styling.
beforeAll(() => {
  chalk.level = 0;
});
afterEach(cleanup);

const ESC = '\u001b';
const AGENTS = ['claude', 'gemini', 'codex', 'command'];

function run(id: string, over: Partial<ReviewRun> = {}): ReviewRun {
  const files = over.files ?? [{ path: `docs/${id}.md`, insertions: 2, deletions: 1, bytes: undefined }];
  return {
    runId: id,
    task: `task-${id}`,
    title: `Title ${id}`,
    agent: 'command',
    state: 'awaiting_review',
    baseBranch: 'main',
    files,
    fileCount: files.length,
    insertions: 2,
    deletions: 1,
    gate: { command: 'npm test', passed: true, exitCode: 0, output: '' },
    scopeViolations: [],
    scopeViolationsMore: 0,
    confidence: 0.8,
    summary: `summary of ${id}`,
    agentError: undefined,
    reasoning: [{ observed: 'saw', considered: ['a'], decided: `decision-${id}`, confidence: 0.8 }],
    escalations: [],
    reviewerVerdicts: [],
    ...over,
  };
}

const DIFF = [
  'diff --git a/docs/a.md b/docs/a.md',
  'index 1..2 100644',
  '--- a/docs/a.md',
  '+++ b/docs/a.md',
  '@@ -1,40 +1,40 @@',
  ...Array.from({ length: 40 }, (_, i) => `+line ${i + 1}`),
  'diff --git a/docs/b.md b/docs/b.md',
  '--- a/docs/b.md',
  '+++ b/docs/b.md',
  '@@ -1 +1 @@',
  '-old b',
  '+new b',
  '',
].join('\n');

function actions(over: Partial<ReviewActions> = {}): ReviewActions & { [K in 'merge' | 'discard' | 'ask' | 'diff' | 'refresh']: ReturnType<typeof vi.fn> } {
  return {
    diff: vi.fn(async () => DIFF),
    merge: vi.fn(async (id: string) => `Merged ${id}`),
    discard: vi.fn(async (id: string) => `Discarded ${id}`),
    ask: vi.fn(async (id: string, who: string) => `${who} reviewed ${id}: approve`),
    refresh: vi.fn(async () => []),
    ...over,
  } as never;
}

/** Let React apply state updates and settled promises. */
const tick = () => new Promise((r) => setTimeout(r, 50));

/** Wait until the last frame contains `text` (content loaded by a promise, e.g. the diff). */
async function frameWith(lastFrame: () => string | undefined, text: string): Promise<string> {
  for (let i = 0; i < 100 && !lastFrame()?.includes(text); i++) await tick();
  expect(lastFrame()).toContain(text);
  return lastFrame()!;
}

async function keys(stdin: { write(s: string): void }, ...seq: string[]): Promise<void> {
  for (const k of seq) {
    stdin.write(k);
    await tick();
  }
}

const RUNS = [run('r-ready'), run('r-gate', { gate: { command: 'npm test', passed: false, exitCode: 1, output: 'boom' } }), run('r-scope', { scopeViolations: [{ path: 'Makefile', reason: 'outside write scope' }] })];

/** The line of the frame holding `text`. */
const lineOf = (frame: string, text: string) => frame.split('\n').find((l) => l.includes(text)) ?? '';

describe('review screens', () => {
  it("a run with 1,200 scope violations gets one scope line naming five and counting the rest, not a line of all it lists", () => {
    const scopeViolations = Array.from({ length: 1000 }, (_, i) => ({ path: `out/f${i}.txt`, reason: 'outside write scope' }));
    const lines = infoLines(run('r-many', { scopeViolations, scopeViolationsMore: 200 }), 40).filter((l) => l.text.startsWith('Scope: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.text).toBe(`Scope: ${scopeViolations.slice(0, 5).map((v) => `${v.path} (outside write scope)`).join(', ')}, … and 1195 more`);
    expect(infoLines(run('r-one', { scopeViolations: scopeViolations.slice(0, 1) }), 40).find((l) => l.text.startsWith('Scope: '))!.text).toBe('Scope: out/f0.txt (outside write scope)');
  });

  it('a run that changes a .gitattributes file, in any folder, carries the same warning as review show; others do not', () => {
    const files = (path: string) => [{ path, insertions: 1, deletions: 0, bytes: 20 }];
    const warning = (path: string) => infoLines(run('r-attr', { files: files(path) }), 60).find((l) => l.text.startsWith('! changes .gitattributes'));
    expect(warning('docs/.gitattributes')).toMatchObject({ color: 'yellow' });
    expect(warning('.gitattributes')).toBeDefined();
    expect(warning('docs/gitattributes.md')).toBeUndefined();
  });

  it('a binary file in the detail\'s file list shows its size, as review show does, not git\'s -1 line counts', () => {
    const files = [{ path: 'docs/zero.md', insertions: -1, deletions: -1, bytes: 20 * 1024 * 1024 }, { path: 'docs/small.md', insertions: 1, deletions: 0, bytes: 6 }];
    const texts = infoLines(run('r-bin', { files }), 60).map((l) => l.text);
    expect(texts).toContain('  docs/zero.md  binary, 20.0 MiB');
    expect(texts).toContain('  docs/small.md  +1 -0');
  });

  it('groups runs: gate failed, then scope violation, then ready, each with its runs', async () => {
    expect(groupRuns(RUNS).map((g) => [g.title, g.runs.map((r) => r.runId)])).toEqual([
      ['Gate failed', ['r-gate']],
      ['Scope violation', ['r-scope']],
      ['Ready', ['r-ready']],
    ]);
    const { lastFrame } = render(<ReviewApp runs={RUNS} actions={actions()} reviewers={AGENTS} rows={24} columns={80} />);
    const f = lastFrame()!;
    const at = (s: string) => f.indexOf(s);
    expect(at('Gate failed (1)')).toBeGreaterThan(-1);
    expect(at('Gate failed (1)')).toBeLessThan(at('task-r-gate'));
    expect(at('task-r-gate')).toBeLessThan(at('Scope violation (1)'));
    expect(at('Scope violation (1)')).toBeLessThan(at('task-r-scope'));
    expect(at('task-r-scope')).toBeLessThan(at('Ready (1)'));
    expect(at('Ready (1)')).toBeLessThan(at('task-r-ready'));
    // Columns: the short id (the run id's end, which `review show` takes), agent, diff size, gate, confidence.
    expect(lineOf(f, 'task-r-gate')).toMatch(/task-r-gate\s+r-gate\s+command\s+1f \+2 -1\s+failed\s+0\.80/);
    // The first run in display order is selected.
    expect(lineOf(f, 'task-r-gate').startsWith('> ')).toBe(true);
  });

  it('j/k and arrows move the selection in display order; enter opens the run with summary, trace, files and diff', async () => {
    const a = actions();
    const { lastFrame, stdin } = render(<ReviewApp runs={RUNS} actions={a} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(stdin, 'j');
    expect(lineOf(lastFrame()!, 'task-r-scope').startsWith('> ')).toBe(true);
    await keys(stdin, '\u001b[B'); // down arrow
    expect(lineOf(lastFrame()!, 'task-r-ready').startsWith('> ')).toBe(true);
    await keys(stdin, 'j'); // stays on the last
    expect(lineOf(lastFrame()!, 'task-r-ready').startsWith('> ')).toBe(true);
    await keys(stdin, 'k', '\r');
    const f = await frameWith(lastFrame, 'file 1/2: docs/a.md');
    expect(f).toContain('task-r-scope — Title r-scope');
    expect(f).toContain('Summary: summary of r-scope');
    expect(f).toContain('decided: decision-r-scope');
    expect(f).toContain('Scope: Makefile (outside write scope)');
    expect(f).toContain('docs/r-scope.md  +2 -1');
    expect(a.diff).toHaveBeenCalledWith('r-scope');
    expect(f).toContain('file 1/2: docs/a.md');
    expect(f).toContain('+line 1');
    expect(f).not.toContain('+line 40');
    // space pages down, j a line, l the next file, q back to the list.
    await keys(stdin, ' ');
    expect(lastFrame()).not.toMatch(/\+line 1\n/);
    await keys(stdin, '\u001b[6~'); // PgDn
    const down = lastFrame()!.match(/\(lines (\d+)-/)![1];
    await keys(stdin, '\u001b[5~'); // PgUp
    expect(Number(lastFrame()!.match(/\(lines (\d+)-/)![1])).toBeLessThan(Number(down));
    await keys(stdin, ' ', ' ', ' ', ' ', ' ');
    expect(lastFrame()).toContain('+line 40');
    await keys(stdin, 'l');
    expect(lastFrame()).toContain('file 2/2: docs/b.md');
    expect(lastFrame()).toContain('-old b');
    await keys(stdin, 'q');
    expect(lastFrame()).toContain('Gate failed (1)');
  });

  it('merge asks for y: n cancels without merging, y merges that run once and reloads the queue', async () => {
    const a = actions({ refresh: vi.fn(async () => RUNS.filter((r) => r.runId !== 'r-gate')) });
    const { lastFrame, stdin } = render(<ReviewApp runs={RUNS} actions={a} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(stdin, 'm');
    expect(lastFrame()).toContain('Merge task-r-gate (run r-gate)? y to confirm');
    await keys(stdin, 'n');
    expect(lastFrame()).toContain('merge cancelled');
    expect(a.merge).not.toHaveBeenCalled();
    await keys(stdin, 'm');
    expect(a.merge).not.toHaveBeenCalled();
    await keys(stdin, 'y');
    expect(a.merge).toHaveBeenCalledTimes(1);
    expect(a.merge).toHaveBeenCalledWith('r-gate');
    await frameWith(lastFrame, 'Merged r-gate');
    expect(lastFrame()).not.toContain('task-r-gate');
  });

  it('discard from the detail view asks for y; n leaves the run, y discards it', async () => {
    const a = actions();
    const { lastFrame, stdin } = render(<ReviewApp runs={RUNS} actions={a} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(stdin, '\r', 'd');
    expect(lastFrame()).toContain('Discard task-r-gate (run r-gate)? y to confirm');
    await keys(stdin, 'n');
    expect(a.discard).not.toHaveBeenCalled();
    expect(lastFrame()).toContain('discard cancelled');
    expect(lastFrame()).toContain('task-r-gate — Title r-gate');
    await keys(stdin, 'd', 'y');
    expect(a.discard).toHaveBeenCalledWith('r-gate');
    expect(a.merge).not.toHaveBeenCalled();
  });

  it('c without a request-changes action says so; with one, a one-line note is sent on enter', async () => {
    const first = render(<ReviewApp runs={RUNS} actions={actions()} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(first.stdin, 'c');
    expect(first.lastFrame()).toContain('request changes is not available');
    first.unmount();

    const requestChanges = vi.fn(async () => 'sent');
    const { lastFrame, stdin } = render(<ReviewApp runs={RUNS} actions={actions({ requestChanges })} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(stdin, 'c', 'use ', 'tabs', '\u007f', 's');
    expect(lastFrame()).toContain('Changes for task-r-gate (enter sends, esc cancels): use tabs_');
    expect(requestChanges).not.toHaveBeenCalled();
    await keys(stdin, '\r');
    expect(requestChanges).toHaveBeenCalledWith('r-gate', 'use tabs');
  });

  it('c with an external editor ends the app with an edit outcome; the note comes back through resume', async () => {
    const onExit = vi.fn<(o: ReviewOutcome) => void>();
    const requestChanges = vi.fn(async () => 'sent');
    const first = render(<ReviewApp runs={RUNS} actions={actions({ requestChanges })} reviewers={AGENTS} externalEditor onExit={onExit} rows={24} columns={80} />);
    await tick();
    await keys(first.stdin, 'j', 'c');
    expect(onExit).toHaveBeenCalledWith({ kind: 'edit', runId: 'r-scope' });
    first.unmount();
    render(<ReviewApp runs={RUNS} actions={actions({ requestChanges })} reviewers={AGENTS} externalEditor resume={{ runId: 'r-scope', note: 'rename it' }} rows={24} columns={80} />);
    await tick();
    expect(requestChanges).toHaveBeenCalledTimes(1);
    expect(requestChanges).toHaveBeenCalledWith('r-scope', 'rename it');
  });

  it('a offers the other agents and asks the chosen one', async () => {
    const a = actions();
    const { lastFrame, stdin } = render(<ReviewApp runs={RUNS} actions={a} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(stdin, 'a');
    expect(lastFrame()).toContain('Ask which agent? 1 claude  2 gemini  3 codex');
    expect(lastFrame()).not.toMatch(/\d command/);
    await keys(stdin, '2');
    expect(a.ask).toHaveBeenCalledWith('r-gate', 'gemini');
    await frameWith(lastFrame, 'gemini reviewed r-gate: approve');
  });

  it('a failed action shows its error and keeps the run', async () => {
    const a = actions({ merge: vi.fn(async () => Promise.reject(new Error('your checkout has uncommitted changes'))), refresh: vi.fn(async () => RUNS) });
    const { lastFrame, stdin } = render(<ReviewApp runs={RUNS} actions={a} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    await keys(stdin, 'm', 'y');
    await frameWith(lastFrame, 'your checkout has uncommitted changes');
    expect(lastFrame()).toContain('task-r-gate');
  });

  it('q and Ctrl-C quit', async () => {
    for (const key of ['q', '\u0003']) {
      const onExit = vi.fn();
      const { stdin, unmount } = render(<ReviewApp runs={RUNS} actions={actions()} reviewers={AGENTS} onExit={onExit} rows={24} columns={80} />);
      await tick();
      await keys(stdin, key);
      expect(onExit).toHaveBeenCalledWith({ kind: 'quit' });
      unmount();
    }
  });

  it('fits 80×24: many runs and a long diff never draw more than 23 lines or 80 columns, and the selection stays visible', async () => {
    const many = Array.from({ length: 40 }, (_, i) => run(`r${String(i).padStart(2, '0')}`, { task: `t${i}-a-very-long-task-name-that-goes-on`, files: Array.from({ length: 9 }, (_, j) => ({ path: `src/some/deep/folder/file-${j}-with-a-long-name.ts`, insertions: 100, deletions: 3 })) }));
    const { lastFrame, stdin } = render(<ReviewApp runs={many} actions={actions({ diff: vi.fn(async () => DIFF.replace(/\+line/g, `+${'x'.repeat(200)}`)) })} reviewers={AGENTS} rows={24} columns={80} />);
    await tick();
    const fits = () => {
      const lines = lastFrame()!.split('\n');
      expect(lines.length).toBeLessThanOrEqual(23);
      for (const l of lines) expect([...l].length).toBeLessThanOrEqual(80);
    };
    fits();
    await keys(stdin, ...Array(30).fill('j'));
    fits();
    expect(lineOf(lastFrame()!, 't30-a-very').startsWith('> ')).toBe(true);
    await keys(stdin, '\r');
    await frameWith(lastFrame, 'file 1/2');
    fits();
  });

  it('agent text with escape sequences is shown escaped: task, title, summary, trace, file names and diff', async () => {
    const attack = `${ESC}[2J${ESC}]0;pwned\u0007\u009b31m\u202e`;
    const shown = '\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202e';
    const evil = run('r-evil', {
      task: `t${attack}`,
      title: `title${attack}`,
      agent: `agent${attack}`,
      summary: `sum ${attack}\nsecond line`,
      reasoning: [{ observed: attack, considered: [], decided: `d${attack}`, confidence: 0.5 }],
      files: [{ path: `docs/note${attack}.md`, insertions: 1, deletions: 0 }],
      scopeViolations: [],
    });
    const diff = `diff --git a/docs/note${attack}.md b/docs/note${attack}.md\n+++ b/x\n+hidden ${attack} line\n`;
    const { lastFrame, frames, stdin } = render(<ReviewApp runs={[evil]} actions={actions({ diff: vi.fn(async () => diff) })} reviewers={AGENTS} rows={30} columns={200} />);
    await tick();
    expect(lastFrame()).toContain('> t\\x1b[2J\\x1b]0;pwned');
    await keys(stdin, '\r');
    const f = await frameWith(lastFrame, '+hidden');
    for (const text of [`t${shown} — title${shown}`, `agent${shown}`, `Summary: sum ${shown}`, `decided: d${shown}`, `docs/note${shown}.md  +1 -0`, `file 1/1: docs/note${shown}.md`, `+hidden ${shown} line`]) expect(f).toContain(text);
    const raw = frames.join('').match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/gu) ?? [];
    expect(raw).toEqual([]);
  });

  it('splitDiff gives one chunk per file, titled by its path', () => {
    expect(splitDiff(DIFF).map((c) => [c.title, c.lines.length])).toEqual([
      ['docs/a.md', 45],
      ['docs/b.md', 6],
    ]);
    expect(splitDiff('')).toEqual([]);
    // Git C-quotes unusual paths; the title is the path itself (escaped later, like the file list).
    expect(splitDiff('diff --git "a/x\\033[2J\\303\\251" "b/x\\033[2J\\303\\251"\n+z\n')[0]!.title).toBe('x\u001b[2Jé');
    expect(unquote('a \\"q\\" \\\\ \\t')).toBe('a "q" \\ \t');
  });
});

describe('request-changes note in $EDITOR', () => {
  it('runs the editor command line on a temp file (arguments allowed), drops # lines, and gives nothing back when it fails', async () => {
    const { mkdtempSync, readFileSync: read, writeFileSync: write, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { editNote } = await import('../../src/commands/review-list.js');
    const dir = mkdtempSync(join(tmpdir(), 'agentctl-editor-'));
    try {
      const ed = join(dir, 'ed.sh');
      // The editor sees the template (it names the run), writes a note with a comment line in it.
      write(ed, `#!/bin/sh\ncp "$2" "${dir}/seen"\nprintf '%s\\n# dropped\\nline two\\n' "$1" > "$2"\n`);
      expect(await editNote(dir, `sh ${ed} 'fix the names'`, 'r-123')).toBe('fix the names\nline two');
      expect(read(join(dir, 'seen'), 'utf8')).toContain('# Changes requested for run r-123');
      expect(await editNote(dir, 'sh -c "exit 3"', 'r-123')).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
