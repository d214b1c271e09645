/**
 * Untrusted text made ready for one terminal line of the review screens: escaped by `terminalSafe`
 * (no control or format character reaches ink), tabs expanded, and fitted to a width.
 */
import { terminalSafe } from '../terminal.js';

/** One untrusted value as a single line (newlines shown as `\n`). */
export const one = (v: unknown): string => terminalSafe(v);

/**
 * An untrusted block of text as lines: control characters escaped, newlines kept as line breaks,
 * tabs expanded to spaces (ink measures a tab as one column, the terminal as up to eight).
 */
export function block(v: unknown): string[] {
  const text = terminalSafe(v, { multiline: true });
  return text === '' ? [] : text.split('\n').map((l) => l.replace(/\t/g, '    '));
}

/** Fit a line to `width` columns: cut with `…`, or pad with spaces when `pad`. */
export function fit(s: string, width: number, pad = false): string {
  if (width <= 0) return '';
  if (s.length > width) return width === 1 ? '…' : s.slice(0, width - 1) + '…';
  return pad ? s.padEnd(width) : s;
}
