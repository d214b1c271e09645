/**
 * SQLite's `PRAGMA integrity_check` of a large log, run on a second thread while `audit verify` walks the
 * chain on this one. It reads every page of every table and index: about a third of the CPU time of
 * verifying a large log, and independent of the chain walk, so on a machine with two cores it costs no
 * extra wall time. Small databases are checked on this thread (starting a worker costs more).
 */
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** Databases smaller than this (bytes) are checked on this thread. */
export const PARALLEL_FROM_BYTES = 64 * 1024 * 1024;

/**
 * SQLite page cache (KiB) of a connection while it reads the whole log once (the integrity check, the
 * chain walk): each page is read once, so a larger cache only holds memory. better-sqlite3's default is
 * 16,000 KiB per connection; on the 1M-event log the integrity check alone took 62 MB of resident memory
 * with it and 48 MB with this, and ran no slower (5.1 s and 4.6 s).
 */
export const SCAN_CACHE_KIB = 2000;

/**
 * Run `read` with `db`'s page cache bounded to {@link SCAN_CACHE_KIB}, for a read of the whole log; the
 * connection's own cache size is set again after, whatever `read` did.
 * @returns what `read` returns (its errors are thrown as they are)
 */
export function withScanCache<T>(db: Database.Database, read: () => T): T {
  const cacheSize = Number(db.pragma('cache_size', { simple: true }));
  db.pragma(`cache_size = -${SCAN_CACHE_KIB}`);
  try {
    return read();
  } finally {
    db.pragma(`cache_size = ${cacheSize}`);
  }
}

// CommonJS, evaluated by the worker: opens its own read-only connection. Whatever happens, it answers
// and raises the flag, since the caller waits for the flag without an event loop.
const WORKER = `
const { workerData } = require('node:worker_threads');
let answer;
try {
  const Database = require(workerData.driver);
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('cache_size = -' + workerData.cacheKiB);
    answer = { result: String(db.pragma('integrity_check', { simple: true })) };
  } finally {
    db.close();
  }
} catch (error) {
  answer = { error: String((error && error.message) || error) };
} finally {
  workerData.port.postMessage(answer ?? { error: 'no answer' });
  const flag = new Int32Array(workerData.flag);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
`;

/**
 * Start the integrity check of `db`'s file.
 * @param db an open database (its file is opened again, read-only, by the worker)
 * @param parallelFromBytes the size from which a worker thread is used (tests pass 0)
 * @returns a function that returns the check's result (`'ok'`, or SQLite's list of problems), blocking
 *   until the worker answers; when the worker cannot start or fails, the check runs on this thread.
 *   Its `ranOn` says, once it has returned, where the check ran.
 */
export function startIntegrityCheck(db: Database.Database, parallelFromBytes = PARALLEL_FROM_BYTES): (() => string) & { ranOn: 'worker' | 'this thread' } {
  const here = (): string => withScanCache(db, () => String(db.pragma('integrity_check', { simple: true })));
  const onThisThread = Object.assign(here, { ranOn: 'this thread' as const });
  const bytes = Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }));
  if (db.memory || bytes < parallelFromBytes) return onThisThread;
  const flag = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER, { eval: true, workerData: { file: db.name, driver, flag, port: port2, cacheKiB: SCAN_CACHE_KIB }, transferList: [port2] });
  } catch {
    port1.close();
    return onThisThread;
  }
  worker.unref();
  const joined = Object.assign((): string => {
    // Bounded, in case the thread never ran at all: the check is then done here.
    Atomics.wait(new Int32Array(flag), 0, 0, 30 * 60_000);
    const answer = receiveMessageOnPort(port1)?.message as { result?: string; error?: string } | undefined;
    port1.close();
    void worker.terminate();
    if (typeof answer?.result === 'string') return answer.result;
    joined.ranOn = 'this thread';
    return here();
  }, { ranOn: 'worker' as 'worker' | 'this thread' });
  return joined;
}
