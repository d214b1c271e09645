/**
 * Splitting a child's output into lines with a cap on each line's length. readline has no cap, and
 * neither has execa's `lines` (its splitter keeps every chunk of an unfinished line: execa
 * lib/transform/split.js): a tool that prints one endless line grows agentctl's memory until V8's string
 * limit throws inside the stream's handler, where nothing catches it. split2's `maxLength` with
 * `skipOverflow` bounds it, but says nothing about what it skipped and scans the kept part of a long
 * line again on every chunk. test/e2e/runner-output.test.ts shows the cap at work.
 */
import { StringDecoder } from 'node:string_decoder';

/** Longest line (characters) handed to a line callback: 8 MiB. A longer line is skipped whole and counted. */
export const MAX_LINE_CHARS = 8 * 1024 * 1024;

/**
 * Bytes in, lines out: a line ends at `\n` (a `\r` before it is dropped, as readline's `crlfDelay:
 * Infinity` does); the last line needs no `\n`; UTF-8 split across chunks is decoded whole. A line
 * longer than `maxChars` is never assembled: its pieces are let go as they come, and `onSkip` is called
 * once the line ends. Linear in the input.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private parts: string[] = [];
  private length = 0;
  private skipping = false;
  private skippedChars = 0;

  /**
   * @param maxChars longest line delivered, in characters (UTF-16 code units)
   * @param onLine called with each line, without its line ending
   * @param onSkip called with the length (characters) of each line that was longer than `maxChars`
   */
  constructor(
    private readonly maxChars: number,
    private readonly onLine: (line: string) => void,
    private readonly onSkip: (chars: number) => void,
  ) {}

  /** Take the next chunk of output. */
  write(chunk: Buffer | string): void {
    this.feed(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  /** The output ended: the last line, if it had no `\n`, is delivered (or counted as skipped). */
  end(): void {
    this.feed(this.decoder.end());
    if (this.parts.length || this.skipping) this.finishLine();
  }

  private feed(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.add(text.slice(start, nl));
      this.finishLine();
      start = nl + 1;
    }
    if (start < text.length) this.add(text.slice(start));
  }

  private add(piece: string): void {
    if (this.skipping) {
      this.skippedChars += piece.length;
      return;
    }
    // A started line (even an empty piece) is pending until its newline.
    if (this.length + piece.length > this.maxChars) {
      this.skipping = true;
      this.skippedChars = this.length + piece.length;
      this.parts = [];
      this.length = 0;
      return;
    }
    this.parts.push(piece);
    this.length += piece.length;
  }

  private finishLine(): void {
    if (this.skipping) {
      const chars = this.skippedChars;
      this.skipping = false;
      this.skippedChars = 0;
      this.onSkip(chars);
      return;
    }
    let line = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.length = 0;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    this.onLine(line);
  }
}
