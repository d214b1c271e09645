/**
 * Which event store a command uses, and opening it: the embedded SQLite log under AGENTCTL_HOME (the
 * default), or a team's PostgreSQL log named by `AGENTCTL_STORE` or `store:` in `.agentrc.yaml`
 * (`postgres://…`; the environment wins, and `AGENTCTL_STORE=sqlite` forces the local log).
 */
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { existsSync, realpathSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import type { HomePaths } from '../core/paths.js';
import type { ProgressFn } from '../core/progress.js';
import { readCheckpointFor, verifyLog, type VerifyReport } from './integrity.js';
import { readLogKey } from './key.js';
import { readLocalCheckpoint } from './pg/auth.js';
import { openPgEventStore, pgLogView, readHead } from './pg/pgStore.js';
import { redactUrl } from '../core/urlSecrets.js';
import { verifyPgLog } from './pg/verify.js';
import { isStoreApproved } from './storeApproval.js';
import { expectedSchemaFingerprint, openEventStore, type EventStore } from './store.js';

/** Where the log lives. */
export type StoreTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** Whether a store setting names PostgreSQL. */
export const isPostgresUrl = (v: string): boolean => /^postgres(ql)?:\/\//.test(v);

/**
 * The store to use.
 * @param paths AGENTCTL_HOME paths (the SQLite file)
 * @param env reads AGENTCTL_STORE (`sqlite` or `postgres://…`)
 * @param configured `store:` from `.agentrc.yaml`, if any
 * @throws ConfigError when AGENTCTL_STORE is neither, or when `configured` names a PostgreSQL store this
 *   machine's user has not approved (storeApproval.ts; AGENTCTL_STORE needs no approval)
 */
export function storeTarget(paths: HomePaths, env: NodeJS.ProcessEnv, configured?: string): StoreTarget {
  const fromEnv = env.AGENTCTL_STORE?.trim();
  const chosen = fromEnv || configured;
  if (!chosen || chosen === 'sqlite') return { kind: 'sqlite', file: paths.database };
  if (isPostgresUrl(chosen)) {
    // A committed `store:` is the repository's choice, not the user's: used only once approved here.
    if (!fromEnv && !isStoreApproved(paths, chosen)) {
      throw new ConfigError(`.agentrc.yaml names the shared store ${redactUrl(chosen)}, which you have not approved on this machine: a repository's config does not choose where your evidence (and PGPASSWORD) goes; nothing was sent to it`, {
        hint: 'If this is your team\'s store, run once: agentctl store approve   (or set AGENTCTL_STORE; AGENTCTL_STORE=sqlite keeps the local log)',
      });
    }
    return { kind: 'postgres', url: chosen };
  }
  throw new ConfigError(`AGENTCTL_STORE must be "sqlite" or a postgres:// URL, not "${chosen.slice(0, 40)}"`);
}

/**
 * The team key file of a shared log: AGENTCTL_LOG_KEY_FILE, else `$AGENTCTL_HOME/keys/team.key`.
 * An agent that read it could forge evidence, so it must sit where the OS sandbox hides everything from
 * agents: below AGENTCTL_HOME or `~/.config/agentctl` (authz/render/os.ts).
 * @throws ConfigError when AGENTCTL_LOG_KEY_FILE names a file elsewhere, also by its real path (symlinked folders)
 */
export function teamKeyFile(paths: HomePaths, env: NodeJS.ProcessEnv, home = homedir()): string {
  const f = env.AGENTCTL_LOG_KEY_FILE?.trim();
  if (!f) return paths.teamKeyFile;
  const file = resolve(f);
  const hidden = [paths.home, join(home, '.config', 'agentctl'), join(home, '.local', 'share', 'agentctl')];
  // By real path too: a folder below a hidden one that is a symlink into a place agents see would hide
  // nothing (the sandbox hides the hidden folder itself wherever it resolves; the key file itself is
  // refused as a symlink by readLogKey).
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const realFile = join(real(dirname(file)), basename(file));
  if (!hidden.some((dir) => file.startsWith(dir + sep) && realFile.startsWith(real(dir) + sep))) {
    throw new ConfigError(`AGENTCTL_LOG_KEY_FILE ${file} is outside the folders the OS sandbox hides from agents; an agent that read it could forge the team's evidence`, {
      hint: `Keep it below ${paths.home} or ${join(home, '.config', 'agentctl')}.`,
    });
  }
  return file;
}

/** A name for the store in messages (a URL's password is hidden). */
export function storeName(target: StoreTarget): string {
  return target.kind === 'sqlite' ? target.file : redactUrl(target.url);
}

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  now?: () => Date;
  /** Inspection only (`audit verify`, halt of a log that fails verification): writes refused. */
  allowTampered?: boolean;
}

/**
 * Open the store `target` names.
 * @throws ConfigError as openEventStore (SQLite) or openPgEventStore (PostgreSQL) do
 */
export function openStore(target: StoreTarget, paths: HomePaths, env: NodeJS.ProcessEnv, options: OpenStoreOptions = {}): EventStore {
  if (target.kind === 'sqlite') return openEventStore(target.file, options);
  return openPgEventStore(target.url, { ...options, keyFile: teamKeyFile(paths, env), checkpointDir: paths.storesDir });
}

/**
 * Verify a store without writing anything (no key created, no checkpoint moved).
 * @param onProgress told how many events were verified (every 10,000, and at the end)
 * @returns the report, or undefined when a SQLite log does not exist yet
 */
export function verifyStore(target: StoreTarget, paths: HomePaths, env: NodeJS.ProcessEnv, onProgress?: ProgressFn): VerifyReport | undefined {
  if (target.kind === 'sqlite') {
    if (!existsSync(target.file)) return undefined;
    const key = readLogKey(paths.keyFile);
    const store = openEventStore(target.file, { allowTampered: true });
    try {
      // The checkpoint first: verifyLog's snapshot, taken after, then holds the event it records even while
      // another process appends. The events are streamed (constant memory), never loaded as a whole.
      const checkpoint = readCheckpointFor(target.file, key);
      return verifyLog(store.db, expectedSchemaFingerprint(), key, checkpoint, onProgress);
    } finally {
      store.close();
    }
  }
  const key = readLogKey(teamKeyFile(paths, env));
  const store = openPgEventStore(target.url, { keyFile: teamKeyFile(paths, env), checkpointDir: paths.storesDir, allowTampered: true });
  try {
    const local = store.schema.logId ? readLocalCheckpoint(paths.storesDir, store.schema.logId) : ({ kind: 'none' } as const);
    if (!store.schema.version) return verifyPgLog(store.schema, { events: [], count: 0, newest: undefined, hashAt: () => undefined }, undefined, key, local);
    // Everything from one snapshot, so appends by other machines meanwhile do not look like tampering; the
    // events a page at a time inside it (memory does not grow with the log).
    return store.session.snapshot(() => verifyPgLog(store.schema, pgLogView(store), readHead(store.session), key, local, onProgress));
  } finally {
    store.close();
  }
}
