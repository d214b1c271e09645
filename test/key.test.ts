/**
 * The per-installation log key: created once (0600 in a 0700 folder), refused when damaged or exposed,
 * and one key when several processes race to create it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { homePaths } from '../src/core/paths.js';
import { KEY_BYTES, adoptPendingKey, createLogKey, readLogKey } from '../src/evidence/key.js';
import { ROOT, cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

const fingerprint = (k: { export(): Buffer }) => createHash('sha256').update(k.export()).digest('hex');

describe('log key', () => {
  it('lives at <home>/keys/log.key, created 0600 in a 0700 folder, 32 bytes, and read back the same', () => {
    const home = tempDir();
    const { keyFile } = homePaths(home);
    expect(keyFile).toBe(join(home, 'keys', 'log.key'));
    expect(readLogKey(keyFile)).toBeUndefined();
    const { key, created } = createLogKey(keyFile);
    expect(created).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'keys')).mode & 0o777).toBe(0o700);
    expect(statSync(keyFile).size).toBe(KEY_BYTES);
    expect(fingerprint(readLogKey(keyFile)!)).toBe(fingerprint(key));
    // A second creation does not replace it, and no temporary file is left behind.
    const again = createLogKey(keyFile);
    expect(again.created).toBe(false);
    expect(fingerprint(again.key)).toBe(fingerprint(key));
    expect(readdirSync(join(home, 'keys'))).toEqual(['log.key']);
  });

  it('refuses a key readable by group or others, of the wrong size, behind a symlink, or in an open folder', () => {
    const home = tempDir();
    const { keyFile } = homePaths(home);
    createLogKey(keyFile);
    chmodSync(keyFile, 0o644);
    expect(() => readLogKey(keyFile)).toThrow(/readable or writable by group or others \(mode 0644\); it must be 0600/);
    chmodSync(keyFile, 0o600);
    chmodSync(join(home, 'keys'), 0o755);
    expect(() => readLogKey(keyFile)).toThrow(/key folder .* is open to group or others \(mode 0755\)/);
    chmodSync(join(home, 'keys'), 0o700);

    const short = join(tempDir(), 'keys', 'log.key');
    mkdirSync(join(short, '..'), { mode: 0o700 });
    writeFileSync(short, Buffer.alloc(16), { mode: 0o600 });
    expect(() => readLogKey(short)).toThrow(/is 16 bytes long, not 32/);
    expect(() => createLogKey(short)).toThrow(/is 16 bytes long, not 32/);

    const linked = join(tempDir(), 'keys', 'log.key');
    mkdirSync(join(linked, '..'), { mode: 0o700 });
    symlinkSync(keyFile, linked);
    expect(() => readLogKey(linked)).toThrow(/symbolic link/);
  });

  it('several processes racing to create it end with one key, which every one of them uses', async () => {
    const keyFile = homePaths(tempDir()).keyFile;
    const start = Date.now() + 1500;
    const code = `
      const { createLogKey } = await import(${JSON.stringify(join(ROOT, 'dist/evidence/key.js'))});
      const { createHash } = await import('node:crypto');
      while (Date.now() < ${start}) {}
      const { key, created } = createLogKey(${JSON.stringify(keyFile)});
      console.log(JSON.stringify({ created, fp: createHash('sha256').update(key.export()).digest('hex') }));`;
    const outs = await Promise.all(
      Array.from({ length: 6 }, () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.on('error', reject);
          child.on('close', (c) => (c === 0 ? resolve(out) : reject(new Error(`exit ${c}`))));
        }),
      ),
    );
    const results = outs.map((o) => JSON.parse(o) as { created: boolean; fp: string });
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.fp)).size).toBe(1);
    expect(results[0]!.fp).toBe(fingerprint(readLogKey(keyFile)!));
    expect(readdirSync(join(keyFile, '..'))).toEqual(['log.key']);
  });

  it('a key whose pending file another process adopts and publishes before its creator does is no error: both hold the same key', () => {
    const keyFile = homePaths(tempDir()).keyFile;
    let adopted: string | undefined;
    // The adopter (a process opening the log, which saw the keyed checkpoint) links the pending key to
    // its final name and drops the pending name, all before the creator's own publish.
    const { key, created } = createLogKey(keyFile, () => {
      adopted = fingerprint(adoptPendingKey(keyFile, () => true)!);
    });
    expect(created).toBe(false);
    expect(fingerprint(key)).toBe(adopted);
    expect(fingerprint(readLogKey(keyFile)!)).toBe(adopted);
    expect(readdirSync(join(keyFile, '..'))).toEqual(['log.key']);
  });

  it('several processes opening a fresh log at once all succeed, keyed by one key (a pending key adopted mid-publish is no error)', async () => {
    const home = tempDir();
    const { database, keyFile } = homePaths(home);
    const start = Date.now() + 1500;
    const code = `
      const { openEventStore } = await import(${JSON.stringify(join(ROOT, 'dist/evidence/store.js'))});
      while (Date.now() < ${start}) {}
      const store = openEventStore(${JSON.stringify(database)});
      store.append({ type: 'system.halted', payload: { by: 'test', reason: String(process.pid) } });
      store.close();`;
    const codes = await Promise.all(
      Array.from({ length: 8 }, () =>
        new Promise<number | null>((resolve, reject) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'inherit', 'inherit'] });
          child.on('error', reject);
          child.on('close', resolve);
        }),
      ),
    );
    expect(codes).toEqual(Array(8).fill(0));
    expect(readdirSync(join(keyFile, '..'))).toEqual(['log.key']);
  }, 60_000);
});
