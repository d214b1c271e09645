/**
 * The projection snapshot MAC: version 2 hashes the state text as it is; version 1 (older saves) still reads.
 * The projection row MAC, written directly, hashes the same bytes as its definition: version 2 (the value
 * as it is, after a canonicalJson header); version 1 (older rows) still verifies.
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hmacSha256, snapshotMac, snapshotMacMatches } from '../../src/evidence/canonical.js';
import { projectionRowMac, projectionRowMacMatches, verifiedRow } from '../../src/evidence/projectionStore.js';

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

describe('projection row MAC', () => {
  const rowV1 = (name: string, r: { key: string; kind: string | null; group: string | null; order: number; value: string }) =>
    hmacSha256(key, `agentctl-projection-row/1\n${canonicalJson({ name, key: r.key, kind: r.kind, group: r.group, order: r.order, value: r.value })}`);

  it('is the HMAC of its definition, for any row (quotes, controls, lone surrogates, null fields; property); a version 1 code still verifies', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const nullable = fc.option(text, { nil: null });
    fc.assert(
      fc.property(text, fc.record({ key: text, kind: nullable, group: nullable, order: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), value: text }), (name, r) => {
        const definition = createHmac('sha256', key).update(`agentctl-projection-row/2\n${canonicalJson({ name, key: r.key, kind: r.kind, group: r.group, order: r.order })}\n`).update(r.value).digest('hex');
        expect(projectionRowMac(key, name, r)).toBe(definition);
        expect(projectionRowMacMatches(key, name, r, definition)).toBe(true);
        expect(projectionRowMacMatches(key, name, r, rowV1(name, r))).toBe(true);
      }),
      { numRuns: 500 },
    );
    expect(() => projectionRowMac(key, 'n', { key: 'k', kind: null, group: null, order: Number.NaN, value: '1' })).toThrow(TypeError);
  });

  it('refuses an edited field, another key, and a value moved into the other fields', () => {
    const row = { key: 'run-1', kind: 'run', group: 'review', order: 7, value: '{"state":"merged","note":"a \\"b\\"\\n"}' };
    const mac = projectionRowMac(key, 'runs:p', row);
    expect(verifiedRow(key, 'runs:p', row, mac)).toBe(row);
    for (const edited of [{ ...row, value: row.value.replace('merged', 'failed') }, { ...row, order: 8 }, { ...row, group: 'audit' }, { ...row, kind: null }, { ...row, key: 'run-2' }]) {
      expect(projectionRowMacMatches(key, 'runs:p', edited, mac)).toBe(false);
      expect(projectionRowMacMatches(key, 'runs:p', edited, rowV1('runs:p', row))).toBe(false);
    }
    expect(projectionRowMacMatches(key, 'runs:q', row, mac)).toBe(false);
    expect(projectionRowMacMatches(createSecretKey(randomBytes(32)), 'runs:p', row, mac)).toBe(false);
    expect(() => verifiedRow(key, 'runs:p', { ...row, order: 8 }, mac)).toThrow(/runs:p/);
    // The header is one line: a value that starts with a newline and a header-like text is still the value.
    expect(projectionRowMac(key, 'runs:p', { ...row, key: 'run', value: `-1"}\n${row.value}` })).not.toBe(mac);
  });
});
