/**
 * No silent truncation in the process runner: output above the cap is an error unless the caller saw
 * every line through a callback or asked for the tail, and then the result says how much was dropped.
 */
import { expect, it } from 'vitest';
import { OutputTooLargeError } from '../../src/core/errors.js';
import { MAX_LINE_CHARS } from '../../src/exec/lines.js';
import { childEnv, runProcess } from '../../src/exec/runner.js';

const print = (lines: number) => [process.execPath, ['-e', `for (let i = 0; i < ${lines}; i++) console.log('line ' + i)`]] as const;
const base = { cwd: process.cwd(), env: childEnv(process.env), maxBufferBytes: 1000 };

it('output above the cap with nobody reading the lines is an OutputTooLargeError, never a shorter result', async () => {
  const [file, args] = print(5000);
  await expect(runProcess(file, args, base)).rejects.toBeInstanceOf(OutputTooLargeError);
  await expect(runProcess(file, args, base)).rejects.toThrow(/more than 1000 characters on stdout/);
});

it('output under the cap is whole', async () => {
  const [file, args] = print(10);
  const r = await runProcess(file, args, base);
  expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(10);
  expect(r.stdoutDropped).toBe(0);
});

it('with a line callback (or overflow: tail) the result keeps the tail and says how much it dropped', async () => {
  const [file, args] = print(5000);
  const seen: string[] = [];
  const r = await runProcess(file, args, { ...base, onStdoutLine: (l) => seen.push(l) });
  expect(seen).toHaveLength(5000);
  expect(r.stdout.length).toBeLessThanOrEqual(1000);
  expect(r.stdout.endsWith('line 4999\n')).toBe(true);
  expect(r.stdoutDropped + r.stdout.length).toBe(seen.reduce((n, l) => n + l.length + 1, 0));
  const tail = await runProcess(file, args, { ...base, overflow: 'tail' });
  expect(tail.stdoutDropped).toBe(r.stdoutDropped);
});

it('past the cap, each further line costs its own length, not a copy of the whole kept tail: a million lines go through', async () => {
  // 1.2 million lines, 8.3 MB, with the default 1 MiB tail. When the tail was trimmed at every line past
  // the cap, each of the ~1 million lines after it copied 1 MiB: this did not end within the test's time.
  const seen = { lines: 0, chars: 0 };
  const r = await runProcess('seq', ['1', '1200000'], { cwd: process.cwd(), env: childEnv(process.env), onStdoutLine: (l) => ((seen.lines += 1), (seen.chars += l.length + 1)) });
  expect(seen.lines).toBe(1_200_000);
  expect(r.stdout.length).toBe(1024 * 1024);
  expect(r.stdout.endsWith('1199999\n1200000\n')).toBe(true);
  expect(r.stdoutDropped + r.stdout.length).toBe(seen.chars);
}, 60_000);

it('a line callback that throws stops the child (its whole group), gets no later line, and runProcess throws its error', async () => {
  const seen: string[] = [];
  const started = Date.now();
  // The child prints, then waits 30 s in a grandchild that holds stdout: only a kill of the group ends it soon.
  const run = runProcess('sh', ['-c', 'echo one; echo two; echo three; sleep 30'], {
    ...base,
    processGroup: true,
    onStdoutLine: (l) => {
      seen.push(l);
      if (l === 'two') throw new Error('refused: two');
    },
  });
  await expect(run).rejects.toThrow('refused: two');
  expect(seen).toEqual(['one', 'two']);
  expect(Date.now() - started).toBeLessThan(10_000);
});

it('a line longer than MAX_LINE_CHARS is never held whole: skipped and counted with a callback, an OutputTooLargeError without one', async () => {
  // One 9 MiB line without a break (a tool printing one endless line), then ordinary lines.
  const code = `process.stdout.write('x'.repeat(${MAX_LINE_CHARS + 1024 * 1024})); process.stdout.write('\\nafter\\r\\nlast')`;
  const seen: string[] = [];
  let longest = 0;
  const r = await runProcess(process.execPath, ['-e', code], { ...base, maxBufferBytes: 1024 * 1024, onStdoutLine: (l) => (seen.push(l), (longest = Math.max(longest, l.length))) });
  expect(seen).toEqual(['after', 'last']);
  expect(longest).toBeLessThan(10);
  expect(r.linesSkipped).toEqual({ stdout: 1, stderr: 0 });
  // Nobody reads the lines: the output cannot be whole, so it is refused, not shortened.
  await expect(runProcess(process.execPath, ['-e', code], { ...base, maxBufferBytes: 1024 * 1024 })).rejects.toBeInstanceOf(OutputTooLargeError);
});
