/**
 * Text of a value that came from an agent or a repository, for folding into a projection or printing.
 * `String()` is not safe on such a value: a JSON object with a `toString` member that is not a function
 * (`{"toString": 1}`, valid JSON an agent can write to its protocol files) makes it throw, and the
 * event that holds it stays in the append-only log, so every later read of it would throw too.
 * @returns a string as it is; `null`/`undefined` as ''; anything else as its JSON text (or
 *   `[unprintable value]` when even that fails)
 */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value !== 'object' && typeof value !== 'function') return String(value);
  try {
    return JSON.stringify(value) ?? '[unprintable value]';
  } catch {
    return '[unprintable value]';
  }
}
