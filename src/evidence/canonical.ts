/**
 * Canonical JSON for hashing: object keys sorted at every level, no whitespace, `undefined` dropped.
 * JavaScript's number formatting is deterministic (shortest round-trip form), so the same value
 * always encodes to the same bytes. Pure.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Encode a JSON-compatible value canonically. Throws TypeError on non-finite numbers, bigints or functions.
 * Written as one pass with string concatenation, sorting an object's keys only when they are out of
 * order: it runs once per appended event (its payload), and the Object.entries/filter/sort/map/join
 * form it replaces cost about twice as much.
 * The output is the same: keys in UTF-16 code-unit order (Array.prototype.sort's default), undefined
 * object members dropped, undefined array members as null.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot encode ${value} canonically`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (i) out += ',';
          out += v === undefined ? 'null' : canonicalJson(v);
        }
        return out + ']';
      }
      const o = value as Record<string, unknown>;
      const keys = Object.keys(o);
      // Payloads are mostly written in key order already: check before sorting.
      for (let i = 1; i < keys.length; i++) {
        if (keys[i - 1]! > keys[i]!) {
          keys.sort();
          break;
        }
      }
      let out = '{';
      for (const k of keys) {
        const v = o[k];
        if (v === undefined) continue;
        if (out.length > 1) out += ',';
        out += JSON.stringify(k) + ':' + canonicalJson(v);
      }
      return out + '}';
    }
    default:
      throw new TypeError(`cannot encode a ${typeof value} canonically`);
  }
}

/** sha256 hex of a string. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** HMAC-SHA256 hex of a string under `key`. */
export function hmacSha256(key: KeyObject, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/** Compare two hex digests in constant time (false when the lengths differ). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
