/** LineSplitter (src/exec/lines.ts): lines as readline gives them, with a cap on each line's length. */
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/exec/lines.js';

function split(chunks: (string | Buffer)[], max = 10) {
  const lines: string[] = [];
  const skipped: number[] = [];
  const s = new LineSplitter(max, (l) => lines.push(l), (n) => skipped.push(n));
  for (const c of chunks) s.write(typeof c === 'string' ? Buffer.from(c) : c);
  s.end();
  return { lines, skipped };
}

describe('LineSplitter', () => {
  it('splits at \\n, drops a \\r before it, keeps empty lines and a last line without \\n', () => {
    expect(split(['a\nb\r\n\nc'])).toEqual({ lines: ['a', 'b', '', 'c'], skipped: [] });
    expect(split(['a', 'b\n', 'c\n'])).toEqual({ lines: ['ab', 'c'], skipped: [] });
    expect(split([''])).toEqual({ lines: [], skipped: [] });
    expect(split(['\n'])).toEqual({ lines: [''], skipped: [] });
  });

  it('decodes a UTF-8 character split across chunks', () => {
    const euro = Buffer.from('€\n');
    expect(split([euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)]).lines).toEqual(['€']);
  });

  it('skips a line longer than the cap whole, counts its length, and goes on with the next', () => {
    expect(split(['0123456789', 'abc\nok\n'])).toEqual({ lines: ['ok'], skipped: [13] });
    expect(split(['0123456789', '0123456789'])).toEqual({ lines: [], skipped: [20] });
    expect(split(['0123456789\n'])).toEqual({ lines: ['0123456789'], skipped: [] });
  });
});
