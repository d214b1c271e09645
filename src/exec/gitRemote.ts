/**
 * Talking to the shared remote (fetch, push) with agentctl's hardened git (git.ts): the remote's content
 * is untrusted, and so is what the repository's config says about the remote.
 *
 * On top of git.ts's settings every call here pins what could run a program or reach another transport:
 * the `ext::` transport is refused, the remote's upload-pack/receive-pack programs are git's own (a
 * repository's `remote.<name>.uploadpack` could name any program: `--upload-pack`/`--receive-pack`), ssh is plain `ssh` in batch mode
 * (never a repository's `core.sshCommand`), received objects are fsck-checked, no submodule is fetched
 * or pushed, no pre-push hook runs (`--no-verify` and `core.hooksPath=/dev/null`).
 *
 * Fetches leave no trace in the refs a user sees: what is fetched lands under a temporary ref namespace
 * (`refs/agentctl/fetch/<nonce>/`) that is deleted before the call returns (the objects stay), and the
 * configured refspecs are ignored (`--refmap=`), so `refs/remotes/…` do not move.
 */
import { randomBytes } from 'node:crypto';
import { StateError } from '../core/errors.js';
import type { Git } from './git.js';

/** The remote run branches are exchanged through (the worker pushes there). */
export const DEFAULT_REMOTE = 'origin';

/**
 * The remote's programs: git's own, given on the command line (a repository's `remote.<name>.uploadpack`
 * cannot be overridden with `-c`: git takes the first value it reads, the repository's).
 */
const UPLOAD_PACK = '--upload-pack=git-upload-pack';
const RECEIVE_PACK = '--receive-pack=git-receive-pack';

/** `-c` settings for a call that talks to `remote`. */
function remoteConfig(remote: string): string[] {
  return [
    'protocol.ext.allow=never',
    'core.sshCommand=ssh -o BatchMode=yes',
    'fetch.fsckObjects=true',
    'transfer.fsckObjects=true',
    'fetch.recurseSubmodules=false',
    'push.recurseSubmodules=no',
    'push.gpgSign=false',
    'fetch.writeCommitGraph=false',
  ].flatMap((c) => ['-c', c]);
}

/** A remote name agentctl accepts: what `git remote add` would, without option-like or path-like names. */
function checkRemote(remote: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(remote)) throw new StateError(`"${remote}" is not a remote name agentctl uses`);
}

/**
 * The environment of a remote call beyond git.ts's allowlist: the ssh agent, and the transports allowed.
 * Only file (local paths), ssh and https: no `git://` (a repository's `core.gitProxy` would start its
 * program, and `-c core.gitProxy=` cannot unset it: git takes the first value it reads), no `ext::` and
 * no `<helper>::` remote helpers.
 */
function remoteEnv(): Record<string, string> {
  return { GIT_ALLOW_PROTOCOL: 'file:ssh:https', ...(process.env.SSH_AUTH_SOCK ? { SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK } : {}) };
}

/**
 * Fetch branches of `remote` into the object store and report their tips; no ref the user sees moves.
 * @param root the repository (the user's checkout)
 * @param branches branch names (without `refs/heads/`)
 * @returns each branch's tip on the remote, or undefined for a branch the remote does not have
 * @throws StateError when the remote cannot be reached or read (nothing changed)
 */
export async function fetchBranches(git: Git, root: string, remote: string, branches: readonly string[]): Promise<Map<string, string | undefined>> {
  checkRemote(remote);
  const tips = new Map<string, string | undefined>(branches.map((b) => [b, undefined]));
  const listed = await git.raw(root, [...remoteConfig(remote), 'ls-remote', UPLOAD_PACK, '--refs', remote, ...branches.map((b) => `refs/heads/${b}`)], { readOnly: true, accept: [0, 1, 2, 128], env: remoteEnv() });
  if (listed.exitCode !== 0) throw unreachable(remote, listed.stderr);
  const present = new Set<string>();
  for (const line of listed.stdout.split('\n')) {
    const [, ref] = line.split('\t');
    if (ref?.startsWith('refs/heads/') && tips.has(ref.slice('refs/heads/'.length))) present.add(ref.slice('refs/heads/'.length));
  }
  if (present.size === 0) return tips;
  const ns = `refs/agentctl/fetch/${randomBytes(6).toString('hex')}`;
  const wanted = [...present];
  try {
    const fetched = await git.raw(
      root,
      [...remoteConfig(remote), 'fetch', UPLOAD_PACK, '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-auto-gc', '--refmap=', remote, ...wanted.map((b, i) => `+refs/heads/${b}:${ns}/${i}`)],
      { accept: [0, 1, 128], env: remoteEnv() },
    );
    if (fetched.exitCode !== 0) throw unreachable(remote, fetched.stderr);
    for (const [i, b] of wanted.entries()) tips.set(b, (await git.resolve(root, `${ns}/${i}`)) ?? undefined);
  } finally {
    for (const i of wanted.keys()) await git.raw(root, ['update-ref', '-d', `${ns}/${i}`], { accept: [0, 1, 128] });
  }
  return tips;
}

/** One ref update of a push: `sha` (undefined: delete) onto `ref`, only if the remote has `expect` there. */
export interface RefUpdate {
  ref: string;
  sha: string | undefined;
  /** What the remote must hold now (the lease); undefined: a plain fast-forward update. */
  expect?: string;
}

/** Why a push did not land (git's words, one per refused ref). */
export type PushResult = { ok: true } | { ok: false; rejected: string[] };

/**
 * Push ref updates to `remote` all or nothing (`--atomic`): a non-fast-forward update or a broken lease
 * refuses the whole push, and the remote is left as it was.
 * @returns ok, or the refusals (ref and reason)
 * @throws StateError when the remote cannot be reached
 */
export async function pushAtomic(git: Git, root: string, remote: string, updates: readonly RefUpdate[]): Promise<PushResult> {
  checkRemote(remote);
  const leases = updates.filter((u) => u.expect !== undefined).map((u) => `--force-with-lease=${u.ref}:${u.expect}`);
  const specs = updates.map((u) => `${u.sha ?? ''}:${u.ref}`);
  const r = await git.raw(root, [...remoteConfig(remote), 'push', RECEIVE_PACK, '--porcelain', '--atomic', '--no-verify', '--no-signed', '--no-follow-tags', ...leases, remote, ...specs], { accept: [0, 1, 128], env: remoteEnv() });
  if (r.exitCode === 0) return { ok: true };
  const rejected = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.split('\t').slice(1).join(' '));
  if (rejected.length === 0) throw unreachable(remote, r.stderr || r.stdout);
  return { ok: false, rejected };
}

function unreachable(remote: string, stderr: string): StateError {
  const why = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' ');
  return new StateError(`cannot reach the remote "${remote}": ${why || 'git failed'}; nothing was changed`, { hint: `Check it with: git remote get-url ${remote}` });
}
