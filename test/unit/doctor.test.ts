/** The pure parts of `doctor`: version parsing and comparison, and the verdict over the checks. */
import { describe, expect, it } from 'vitest';
import { doctorVerdict, type DoctorCheck } from '../../src/orchestrator/doctor.js';
import { compareVersions, extractVersion } from '../../src/orchestrator/doctorAgents.js';

describe('agent CLI versions', () => {
  it.each([
    ['2.1.330 (Claude Code)', '2.1.330'],
    ['codex-cli 0.169.0', '0.169.0'],
    ['0.61.0\n', '0.61.0'],
    ['git version 2.39.5', '2.39.5'],
    ['Claude Code', undefined],
  ])('extractVersion(%j) = %j', (text, version) => expect(extractVersion(text)).toBe(version));

  it.each([
    ['1.0.0', '2.1.330', -1],
    ['2.1.330', '2.1.330', 0],
    ['2.1.331', '2.1.330', 1],
    ['2.10.0', '2.9.9', 1],
    ['0.169.0', '0.61.0', 1],
    ['2.37.9', '2.38.0', -1],
  ])('compareVersions(%s, %s) has the sign %i', (a, b, sign) => expect(Math.sign(compareVersions(a, b))).toBe(sign));
});

describe('doctorVerdict', () => {
  const check = (id: string, status: DoctorCheck['status'], data: Record<string, unknown> = {}): DoctorCheck => ({ id, group: id === 'git' ? 'git' : 'agents', title: id, status, detail: '', data });
  it('runs can start when nothing failed; warnings do not count; usable agents are listed in order', () => {
    const v = doctorVerdict([check('codex', 'ok', { usable: true }), check('claude', 'warn', { usable: true }), check('gemini', 'warn'), check('git', 'ok')]);
    expect(v).toMatchObject({ ok: true, usableAgents: ['claude', 'codex'] });
  });
  it('one failed check stops everything', () => {
    expect(doctorVerdict([check('claude', 'ok', { usable: true }), check('git', 'fail')]).ok).toBe(false);
  });
});
