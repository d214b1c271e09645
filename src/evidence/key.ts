/**
 * The per-installation log key: 32 random bytes in `<home>/keys/log.key` (file 0600, folder 0700). It is
 * the HMAC-SHA256 key that authenticates every event and the checkpoint (see logAuth.ts), so whoever
 * cannot read it cannot forge or rebuild the log without `audit verify` noticing.
 *
 * Creation is atomic and exclusive: the bytes are written in full to a uniquely named temporary file
 * in the same folder, then hard-linked to the final name. link(2) fails with EEXIST when the name is
 * taken (the O_EXCL of renaming), so two processes racing end with one key and the loser reads the
 * winner's; a reader never sees a half-written key (which a plain `wx` write would show it).
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../core/errors.js';

/** Length of the key in bytes (HMAC-SHA256 key of the hash's block-safe size). */
export const KEY_BYTES = 32;

const checksPermissions = process.platform !== 'win32';

function mode(m: number): string {
  return (m & 0o777).toString(8).padStart(4, '0');
}

/** Refuse a key folder that others can enter (they could replace or read the key). */
function checkFolder(dir: string): void {
  const st = statSync(dir);
  if (checksPermissions && (st.mode & 0o077) !== 0) {
    throw new ConfigError(`the key folder ${dir} is open to group or others (mode ${mode(st.mode)}); it must be 0700`, { hint: `chmod 700 ${dir}` });
  }
}

/**
 * Read a key file, checking it through the open descriptor (no swap between check and read).
 * @param file path of the key
 * @returns the key, or undefined when the file does not exist
 * @throws ConfigError when it is not a regular file, is a symbolic link, has group/world permissions,
 *   is not exactly {@link KEY_BYTES} bytes long, or its folder is open to group/others
 */
export function readLogKey(file: string): KeyObject | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new ConfigError(`the log key ${file} is a symbolic link; it must be a regular file`);
    throw new ConfigError(`cannot read the log key ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(`the log key ${file} is not a regular file`);
    if (checksPermissions && (st.mode & 0o077) !== 0) {
      throw new ConfigError(`the log key ${file} is readable or writable by group or others (mode ${mode(st.mode)}); it must be 0600`, {
        hint: `chmod 600 ${file}, then check who could have copied it`,
      });
    }
    if (st.size !== KEY_BYTES) throw new ConfigError(`the log key ${file} is ${st.size} bytes long, not ${KEY_BYTES}: it was damaged or replaced`, { hint: 'Inspect the log with: agentctl audit verify' });
    checkFolder(dirname(file));
    const bytes = Buffer.alloc(KEY_BYTES);
    if (readSync(fd, bytes, 0, KEY_BYTES, 0) !== KEY_BYTES) throw new ConfigError(`the log key ${file} could not be read in full`);
    return createSecretKey(bytes);
  } finally {
    closeSync(fd);
  }
}

/** fsync a folder so a name just linked or renamed in it survives a crash. */
export function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the entry is then as durable as they make it.
  } finally {
    closeSync(fd);
  }
}

/** Write `bytes` to a new, uniquely named 0600 file beside `file`, flushed to disk. @returns its path */
function writePending(file: string, bytes: Buffer): string {
  const pending = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.pending`;
  writeFileSync(pending, bytes, { flag: 'wx', mode: 0o600 });
  const fd = openSync(pending, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return pending;
}

/** Link `pending` to `file` (exclusive), then drop the pending name. @returns false when `file` already existed or another process already published `pending` there */
function publish(pending: string, file: string): boolean {
  try {
    linkSync(pending, file);
    syncFolder(dirname(file));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // Another process opening the log adopted this pending key (adoptPendingKey): it linked it to
    // `file` and dropped the pending name before this call could. The key at `file` is then this one.
    if (code === 'ENOENT' && existsSync(file)) return false;
    throw new ConfigError(`cannot create the log key ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    // Another process opening the log may have adopted this pending key already (adoptPendingKey).
    dropPending(pending);
  }
}

/** Remove a pending key file; one already gone (adopted by another process) is fine. */
function dropPending(pending: string): void {
  try {
    unlinkSync(pending);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Create the key at `file` unless one exists (folder created 0700, file 0600).
 * @param beforePublish called with the new key after it is on disk under a temporary name and before it
 *   takes the final name; logAuth.ts writes the keyed checkpoint here, so a crash never leaves a key
 *   without the checkpoint that says the log is keyed (see {@link adoptPendingKey} for the other half)
 * @returns the key now at `file` and whether this call created it (false: another process won the race
 *   and its key was read back; anything `beforePublish` wrote with the losing key must be redone)
 * @throws ConfigError when the folder or file cannot be created, or the existing key fails {@link readLogKey}
 */
export function createLogKey(file: string, beforePublish?: (key: KeyObject) => void): { key: KeyObject; created: boolean } {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`cannot create the key folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  checkFolder(dir);
  const bytes = randomBytes(KEY_BYTES);
  const key = createSecretKey(bytes);
  const pending = writePending(file, bytes);
  try {
    beforePublish?.(key);
  } catch (error) {
    dropPending(pending);
    throw error;
  }
  if (publish(pending, file)) return { key, created: true };
  const winner = readLogKey(file);
  if (!winner) throw new ConfigError(`the log key ${file} vanished while it was being created`);
  return { key: winner, created: false };
}

/**
 * Finish a key creation that crashed between writing the checkpoint and publishing the key: find a
 * pending key file beside `file` that `accept` confirms (it authenticates the checkpoint) and give it
 * the final name. Whoever can write this folder could replace the key itself, so this gives an
 * attacker nothing the key's own protection does not already withhold.
 * @returns the adopted key, or undefined when no pending key is accepted
 * @throws ConfigError as {@link readLogKey}
 */
export function adoptPendingKey(file: string, accept: (key: KeyObject) => boolean): KeyObject | undefined {
  const dir = dirname(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const prefix = `${basename(file)}.`;
  for (const name of names.filter((n) => n.startsWith(prefix) && n.endsWith('.pending'))) {
    const pending = join(dir, name);
    let key: KeyObject | undefined;
    try {
      key = readLogKey(pending);
    } catch {
      // Not a whole key file (yet, or any more): it cannot be the key the checkpoint names.
      continue;
    }
    if (!key || !accept(key)) continue;
    if (publish(pending, file)) return key;
    return readLogKey(file);
  }
  return undefined;
}
