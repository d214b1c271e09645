import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/evidence/events.js';
import { RunProgress } from '../../src/ui/RunProgress.js';
import { outputMode, table } from '../../src/ui/output.js';

const ev = (seq: number, type: string, payload: Record<string, unknown>): StoredEvent => ({ seq, key: String(seq), ts: '', type, version: 1, payload, prevHash: '', hash: '', runId: 'r123' });

describe('ui', () => {
  it('RunProgress shows counters and the latest activity', () => {
    const { lastFrame, rerender } = render(<RunProgress task="docs" agent="claude" events={[ev(1, 'tool.called', { tool: 'Edit', path: 'src/a.ts' })]} />);
    expect(lastFrame()).toContain('1 tool call(s)');
    expect(lastFrame()).toContain('Edit src/a.ts');
    expect(lastFrame()).toContain('working');
    rerender(<RunProgress task="docs" agent="claude" events={[ev(1, 'tool.called', { tool: 'Edit', path: 'src/a.ts' }), ev(2, 'file.changed', { path: 'src/a.ts' }), ev(3, 'run.decided', { outcome: 'review', reasons: [] })]} />);
    expect(lastFrame()).toContain('1 file(s) edited');
    expect(lastFrame()).toContain('done');
  });

  it('output mode: --json wins, CI and pipes are plain, a TTY is interactive', () => {
    expect(outputMode(true, {}, true)).toBe('json');
    expect(outputMode(false, {}, true)).toBe('interactive');
    expect(outputMode(false, { CI: '1' }, true)).toBe('plain');
    expect(outputMode(false, {}, false)).toBe('plain');
    expect(outputMode(false, { TERM: 'dumb' }, true)).toBe('plain');
  });

  it('table aligns columns', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']]).split('\n')[1]).toBe('xxx  y');
  });
});
