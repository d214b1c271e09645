/** terminalSafe / jsonText: what is made visible, what is kept, and that JSON parses back exactly. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/evidence/events.js';
import { BatchProgress } from '../../src/ui/BatchProgress.js';
import { describeEvent } from '../../src/ui/describe.js';
import { RunProgress } from '../../src/ui/RunProgress.js';
import { ROOT } from '../helpers.js';
import { jsonText, terminalSafe } from '../../src/ui/terminal.js';

const ESC = '\u001b';
const ATTACK = `${ESC}[2J${ESC}[H${ESC}]0;pwned\u0007\u009b31m\u202e`;
/** Every character a terminal acts on or that hides text, one of each kind. */
const NASTY = [
  '\u0000', '\u0007', '\b', '\u000b', '\f', '\r', ESC, '\u007f', '\u0080', '\u009b', '\u009d', '\u00ad', '\u061c', '\u200b', '\u200d', '\u200e', '\u200f',
  '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2060', '\u2066', '\u2067', '\u2068', '\u2069', '\u3164', '\ufeff', '\u{e0041}',
];
const raw = (s: string) => [...s].filter((c) => NASTY.includes(c) || c === '\n' || c === '\t');

describe('terminalSafe', () => {
  it('makes ESC, BEL, C1 CSI and a bidi override visible in the documented forms', () => {
    expect(terminalSafe(`summary ${ATTACK} end`)).toBe('summary \\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\x9b31m\\u202e end');
    expect(terminalSafe('a\u{e0041}b')).toBe('a\\u{e0041}b');
  });

  it('leaves no raw control, format or separator character, in either mode', () => {
    const text = NASTY.join('x');
    expect(raw(terminalSafe(text))).toEqual([]);
    expect(raw(terminalSafe(text, { multiline: true }))).toEqual([]);
  });

  it('one-line text shows newline, CR and tab; multi-line text keeps newline and tab but never CR', () => {
    expect(terminalSafe('ok\n#999 forged\r\tx')).toBe('ok\\n#999 forged\\r\\tx');
    expect(terminalSafe('a\n\tb\r\nc', { multiline: true })).toBe('a\n\tb\\r\nc');
  });

  it('keeps ordinary text, including non-Latin letters and emoji, unchanged', () => {
    for (const s of ['src/a.ts', 'Grüße → ok', '日本語のテキスト', 'مرحبا', '👍', 'C:\\path\\x1b']) expect(terminalSafe(s)).toBe(s);
    expect(terminalSafe(undefined)).toBe('');
    expect(terminalSafe(null)).toBe('');
    expect(terminalSafe(42)).toBe('42');
  });

  it('describeEvent lines are one line and safe (a note cannot forge a log line)', () => {
    const e = { seq: 1, key: '1', ts: '', type: 'run.discarded', version: 1, payload: { by: 'dev', reason: `no\n#999 forged ${ATTACK}` }, prevHash: '', hash: '', runId: 'r' } as StoredEvent;
    const line = describeEvent(e)!;
    expect(line).toBe('discarded by dev: no\\n#999 forged \\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\x9b31m\\u202e');
  });
});

describe('the live views', () => {
  it('RunProgress and BatchProgress show a hostile task name, file name and skip reason visibly', () => {
    const events = [{ seq: 1, key: '1', ts: '', type: 'file.changed', version: 1, payload: { path: `docs/${ATTACK}.md` }, prevHash: '', hash: '', runId: 'r1' }] as StoredEvent[];
    const one = render(createElement(RunProgress, { task: `t${ATTACK}`, agent: 'command', events })).lastFrame()!;
    const many = render(createElement(BatchProgress, { rows: [{ task: `a${ATTACK}`, events, skipped: undefined }, { task: 'b', events: [], skipped: `why${ATTACK}` }] })).lastFrame()!;
    for (const frame of [one, many]) {
      expect(frame).not.toContain(`${ESC}[2J`);
      expect(frame).not.toContain(`${ESC}]0;`);
      expect(frame).not.toMatch(/[\u009b\u202e\u0007]/u);
    }
    expect(one).toContain('t\\x1b[2J');
    expect(one).toContain('changed docs/\\x1b[2J');
    expect(many).toContain('why\\x1b[2J');
  });
});

describe('jsonText', () => {
  it('escapes DEL, C1, bidi, separators and tag characters, and parses back to the exact value', () => {
    const value = { s: NASTY.join('x'), k: { [`key${ATTACK}`]: [ATTACK, '\n\t', 'plain é 👍'] } };
    const text = jsonText(value);
    expect(raw(text.replace(/\n/g, ''))).toEqual([]);
    expect(text).toContain('\\u009b');
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\udb40\\udc41');
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toContain('plain é 👍');
  });

  it('keeps JSON.stringify indentation', () => {
    expect(jsonText({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});

describe('printers', () => {
  it('every command file that prints text goes through terminalSafe (a new printer without it fails here)', () => {
    const dir = join(ROOT, 'src', 'commands');
    const printing = readdirSync(dir).filter((f) => /println\(|table\(|stderr\.write\(/.test(readFileSync(join(dir, f), 'utf8')));
    expect(printing.length).toBeGreaterThan(10);
    expect(printing.filter((f) => !readFileSync(join(dir, f), 'utf8').includes("from '../ui/terminal.js'"))).toEqual([]);
  });
});
