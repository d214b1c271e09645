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
