/**
 * bin/agentctl-bwrap, the bubblewrap srt starts (exec/osSandbox.ts confine): it keeps /proc/sys and the
 * kernel's other settings read-only after srt's `--proc /proc`, and starts no command when srt mounted
 * /proc otherwise. Driven with a stand-in `bwrap` on PATH that records its arguments; the real effect
 * (an agent as root cannot open kernel.core_pattern for writing) is in containment.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cleanup, ROOT, tempDir } from '../helpers.js';

afterEach(cleanup);

/** Run the wrapper with a stand-in bwrap; returns its exit code and the arguments bwrap got (NUL-separated). */
function wrapper(args: string[]): { code: number | null; stderr: string; got: string[] | undefined } {
  const bin = tempDir('fake-bwrap-');
  const out = join(bin, 'args');
  writeFileSync(join(bin, 'bwrap'), `#!/bin/sh\nprintf '%s\\0' "$@" > ${out}\n`);
  chmodSync(join(bin, 'bwrap'), 0o755);
  const r = spawnSync(join(ROOT, 'bin', 'agentctl-bwrap'), args, { env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
  let got: string[] | undefined;
  try {
    got = readFileSync(out, 'utf8').split('\0').slice(0, -1);
  } catch {
    got = undefined;
  }
  return { code: r.status, stderr: r.stderr, got };
}

it('binds /proc/sys (and sysrq-trigger, irq, bus, fs) read-only right after --proc /proc, every other argument as it was', () => {
  const mounts = Array.from({ length: 1500 }, (_, i) => ['--ro-bind', `/a ${i}`, `/a ${i}`]).flat();
  const r = wrapper(['--setenv', 'EMPTY', '', ...mounts, '--proc', '/proc', '--unsetenv', 'X', '--', 'bash', '-c', "echo '--proc /proc'"]);
  expect(r.code, r.stderr).toBe(0);
  const at = r.got!.indexOf('--proc');
  expect(r.got!.slice(0, at)).toEqual(['--setenv', 'EMPTY', '', ...mounts]);
  expect(r.got!.slice(at, at + 5)).toEqual(['--proc', '/proc', '--ro-bind-try', '/proc/sys', '/proc/sys']);
  expect(r.got!.join(' ')).toContain('--ro-bind-try /proc/sysrq-trigger /proc/sysrq-trigger');
  expect(r.got!.slice(-6)).toEqual(['--unsetenv', 'X', '--', 'bash', '-c', "echo '--proc /proc'"]);
});

it('starts no command when srt did not mount /proc with --proc /proc (exit 70); its probes without a command pass through', () => {
  const refused = wrapper(['--ro-bind', '/', '/', '--bind', '/proc', '/proc', '--', 'true']);
  expect(refused.code).toBe(70);
  expect(refused.got).toBeUndefined();
  expect(refused.stderr).toMatch(/refusing to start the command without a read-only \/proc\/sys/);
  // `--proc /proc` inside the command is not srt's mount.
  expect(wrapper(['--', 'sh', '-c', 'x', '--proc', '/proc']).code).toBe(70);
  for (const probe of [['--help'], ['--unshare-user', '--dev-bind', '/', '/', 'true']]) expect(wrapper(probe)).toMatchObject({ code: 0, got: probe });
});
