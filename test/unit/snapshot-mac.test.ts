/** The projection snapshot MAC: version 2 hashes the state text as it is; version 1 (older saves) still reads. */
import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hmacSha256, snapshotMac, snapshotMacMatches } from '../../src/evidence/canonical.js';

const key = createSecretKey(randomBytes(32));
const s = { name: 'trust:p', lastSeq: 42, rulesHash: 'r1', state: JSON.stringify({ profiles: { a: { runs: [1, 2, 3] } }, note: 'ü "quoted"\n' }) };
const v1 = (k = key, x = s) => hmacSha256(k, `agentctl-projection/1\n${canonicalJson({ name: x.name, lastSeq: x.lastSeq, rulesHash: x.rulesHash, state: x.state })}`);

describe('projection snapshot MAC', () => {
  it('accepts its own (v2) and an older save (v1); refuses an edited field or another key under either', () => {
    expect(snapshotMacMatches(key, s, snapshotMac(key, s))).toBe(true);
    expect(snapshotMacMatches(key, s, v1())).toBe(true);
    for (const edited of [{ ...s, state: s.state.replace('3', '4') }, { ...s, lastSeq: 43 }, { ...s, rulesHash: 'r2' }, { ...s, name: 'trust:q' }]) {
      expect(snapshotMacMatches(key, edited, snapshotMac(key, s))).toBe(false);
      expect(snapshotMacMatches(key, edited, v1())).toBe(false);
    }
    const other = createSecretKey(randomBytes(32));
    expect(snapshotMacMatches(key, s, snapshotMac(other, s))).toBe(false);
    expect(snapshotMacMatches(key, s, v1(other))).toBe(false);
    // The field boundary is fixed: a state cannot be moved into the other fields.
    expect(snapshotMac(key, { ...s, rulesHash: 'r', state: `1\n${s.state}` })).not.toBe(snapshotMac(key, s));
  });
});
