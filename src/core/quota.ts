/**
 * A record quota: the first `max` items are taken, the rest only counted. What the log keeps of an
 * agent's output and of its protocol files is bounded this way (the log is append-only: what one run
 * records stays). Pure.
 */
export class Quota {
  /** Items taken so far (at most `max`). */
  taken = 0;
  /** Items refused so far (counted, not taken). */
  over = 0;

  /** @param max how many items may be taken (a count, ≥ 0; Infinity for no limit) */
  constructor(readonly max: number) {}

  /** Take one item if there is room. @returns whether it was taken (else it is counted in `over`) */
  take(): boolean {
    if (this.taken < this.max) {
      this.taken++;
      return true;
    }
    this.over++;
    return false;
  }

  /** @returns the leading items that fit, in order; the rest are counted in `over` */
  takeSome<T>(items: readonly T[]): T[] {
    const kept = items.slice(0, Math.max(0, this.max - this.taken));
    this.taken += kept.length;
    this.over += items.length - kept.length;
    return kept;
  }
}

/**
 * The leading items a record may list: at most `max` of them and at most `maxChars` characters in all
 * (as `size` counts them), but always the first one, so that a count of the rest has an item to go
 * with. For lists whose items an agent sizes (file paths: 1,000 paths of 3,800 characters made one
 * run's row 11 MB). Pure.
 * @param max items (a count)
 * @param maxChars characters for all the items listed
 * @param size the characters one item adds
 * @returns a prefix of `items` (empty only when `items` is)
 */
export function leadingWithin<T>(items: readonly T[], max: number, maxChars: number, size: (item: T) => number): T[] {
  let chars = 0;
  let n = 0;
  for (; n < items.length && n < max; n++) {
    chars += size(items[n]!);
    if (n > 0 && chars > maxChars) break;
  }
  return items.slice(0, n);
}
