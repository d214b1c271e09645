/**
 * Terminal safety: text that came from an agent, a repository or a person's note is untrusted. Printed
 * raw, an ESC sequence can clear the screen (hiding the scope-violation lines from the reviewer), set
 * the window title, move the cursor; a U+202E override can make a file name read backwards; a newline
 * in a one-line field can forge a whole line of output. Every printer passes such text through
 * {@link terminalSafe} before colouring it, and `--json` output through {@link jsonText}.
 *
 * Why not a library: `strip-ansi` removes only well-formed ANSI sequences (a lone ESC, a C1 CSI or a
 * bidi override survive) and hides what the agent tried; `jsesc` escapes every non-ASCII letter. The
 * rule here is small, and it must show the attempt.
 *
 * Visible forms (ASCII, copy-pasteable):
 * | character | shown as |
 * | --- | --- |
 * | newline, carriage return, tab (when not kept) | `\n`, `\r`, `\t` |
 * | other C0 controls (U+0000–U+001F), DEL (U+007F), C1 controls (U+0080–U+009F) | `\xHH`, e.g. ESC `\x1b`, CSI `\x9b` |
 * | Unicode format characters (category Cf: bidi embeddings/overrides/isolates U+202A–U+202E and U+2066–U+2069, marks U+200E/U+200F/U+061C, zero-width U+200B–U+200D, U+2060–U+2064, U+FEFF, soft hyphen, tag characters…), line/paragraph separators U+2028/U+2029, lone surrogates, invisible fillers (U+034F, U+115F, U+1160, U+3164, U+FFA0) | `\uXXXX`, e.g. `\u202e`; above U+FFFF `\u{XXXXX}` |
 *
 * The visible form is for reading, not reversible (a literal backslash is left as is); `--json` keeps
 * the exact text.
 */
import { textOf } from '../core/text.js';

/**
 * Every character that is never written raw to a terminal (newline and tab included: the caller's mode
 * decides whether those two stay). Also used to escape JSON text.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034f\u115f\u1160\u3164\uffa0]/gu;

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** The visible form of one unsafe character (see the table above). */
function visible(ch: string): string {
  const short = SHORT[ch];
  if (short) return short;
  const cp = ch.codePointAt(0)!;
  if (cp <= 0xff) return `\\x${hex(cp, 2)}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`;
  return `\\u{${hex(cp, 5)}}`;
}

/** Options of {@link terminalSafe}. */
export interface TerminalSafeOptions {
  /**
   * The text is shown as a block of lines (a diff, a summary, gate output): newlines and tabs stay.
   * Default false: a one-line field (file name, title, note, reason) shows them as `\n` / `\t`, so it
   * can never forge another line. A carriage return is shown as `\r` in both modes (it would let the
   * rest of a line overwrite what came before).
   */
  multiline?: boolean;
}

/**
 * Make untrusted text safe to print on a terminal: control and invisible format characters become
 * visible escapes (`\x1b`, `\x9b`, `\u202e`, `\n` …, see the module comment). Apply it to the text
 * BEFORE colouring it (chalk's own escape sequences must survive).
 * @param text the untrusted value; non-strings are converted with textOf (core/text.ts: never throws),
 *   `null`/`undefined` give ''
 * @param opts `multiline: true` keeps newlines and tabs
 * @returns the text with every unsafe character replaced; safe text is returned unchanged
 */
export function terminalSafe(text: unknown, opts: TerminalSafeOptions = {}): string {
  const s = textOf(text);
  return s.replace(UNSAFE, (ch) => (opts.multiline && (ch === '\n' || ch === '\t') ? ch : visible(ch)));
}

/**
 * JSON text for `--json` output that parses back to exactly the original value, with no character a
 * terminal would act on: `JSON.stringify` escapes C0 controls but writes DEL, C1 controls, bidi and
 * other format characters and U+2028/U+2029 raw; those become `\uXXXX` (UTF-16 units, so characters
 * above U+FFFF become a surrogate pair of escapes, as JSON requires).
 * @param value any JSON-serialisable value
 * @param indent spaces of indentation (as `JSON.stringify`'s third argument)
 * @returns the JSON text
 */
export function jsonText(value: unknown, indent = 2): string {
  // A raw C0 character in JSON.stringify's output is its own indentation (inside strings they are
  // already escaped), so those stay.
  const units = (ch: string) => Array.from({ length: ch.length }, (_, i) => `\\u${hex(ch.charCodeAt(i), 4)}`).join('');
  return (JSON.stringify(value, null, indent) ?? 'null').replace(UNSAFE, (ch) => (ch < ' ' ? ch : units(ch)));
}
