/**
 * Which shared stores this machine's user approved. `store:` in `.agentrc.yaml` is committed with the
 * repository, so whoever can push to it (or the author of a repository you cloned) chooses it: without
 * approval, opening a repository would send every event (diffs, tool output, the reviewer's notes) and
 * the `PGPASSWORD` of the environment to a server the user never chose. So a `store:` from the
 * repository is used only once it is listed here, written by `agentctl store approve` (a human command,
 * refused inside a run) in `$AGENTCTL_HOME/stores/approved.json`, a folder the OS sandbox hides from
 * agents. `AGENTCTL_STORE` is the user's own choice and needs no approval.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { HomePaths } from '../core/paths.js';
import { isSecretUrlParam, redactUrl } from '../core/urlSecrets.js';
import { withFileLock } from '../core/lock.js';

/** The approval file: `{ "approved": [<normalised URL>, …] }`. */
export function approvalsFile(paths: HomePaths): string {
  return join(paths.storesDir, 'approved.json');
}

/**
 * A store URL in the form approvals compare: `postgres://user@host:port/db?params`, scheme
 * `postgresql:` spelled `postgres:`, host lower-cased, no password: neither the user's nor the
 * SECRET_URL_PARAMS parameters (the approval file keeps no secret). The other parameters stay:
 * `host=`, `sslmode=` and the like choose where and how to connect.
 * @throws ConfigError when `url` does not parse
 */
export function normaliseStoreUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`the store "${redactUrl(url).slice(0, 80)}" is not a URL`);
  }
  const user = u.username ? `${u.username}@` : '';
  for (const secret of [...u.searchParams.keys()].filter(isSecretUrlParam)) u.searchParams.delete(secret);
  return `postgres://${user}${u.host.toLowerCase()}${u.pathname}${u.search}`;
}

/** The approved store URLs (normalised); none when the file is missing. @throws ConfigError when it is unreadable or malformed */
export function approvedStores(paths: HomePaths): string[] {
  const file = approvalsFile(paths);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as { approved?: unknown };
    if (!Array.isArray(parsed.approved) || !parsed.approved.every((x) => typeof x === 'string')) throw new Error('"approved" is not a list of URLs');
    return parsed.approved as string[];
  } catch (error) {
    throw new ConfigError(`${file} is malformed: ${(error as Error).message}`, { hint: `Remove it and approve the stores again with: agentctl store approve` });
  }
}

/** Whether `url` is approved on this machine. @throws ConfigError as {@link approvedStores} */
export function isStoreApproved(paths: HomePaths, url: string): boolean {
  return approvedStores(paths).includes(normaliseStoreUrl(url));
}

/**
 * Approve `url` (idempotent). The read and the write happen under a lock (`stores/approved.lock`), so
 * two `store approve` at once keep both URLs; the file is replaced atomically (written beside, then
 * renamed), 0600 in a 0700 folder.
 * @returns the normalised URL and whether it was new
 * @throws ConfigError when the folder or file cannot be written, or the file is malformed (as
 *   {@link approvedStores}); proper-lockfile's ELOCKED error when another process holds the lock for ~45 s
 */
export async function approveStore(paths: HomePaths, url: string): Promise<{ url: string; added: boolean }> {
  const normalised = normaliseStoreUrl(url);
  const file = approvalsFile(paths);
  try {
    mkdirSync(paths.storesDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
  return withFileLock(join(paths.storesDir, 'approved.lock'), async () => {
    const list = approvedStores(paths);
    if (list.includes(normalised)) return { url: normalised, added: false };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify({ approved: [...list, normalised] }, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, file);
    } catch (error) {
      throw new ConfigError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
    }
    return { url: normalised, added: true };
  });
}
