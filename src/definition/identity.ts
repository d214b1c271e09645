/**
 * A project's identity in the event log, the same on every machine that has a clone: the `project` set
 * in the committed `.agentrc.yaml`, else derived from the repository's root commit (the first commit of
 * HEAD's first-parent history). Never the folder a clone happens to sit in.
 *
 * Logs written before identities were derived carry the folder name; {@link settleLegacyIdentity} keeps
 * such a project on its folder name while its history is only there, so nothing it earned disappears
 * (committing `project: <that name>` makes it the same everywhere).
 */
import type { Git } from '../exec/git.js';
import type { EventStore } from '../evidence/store.js';
import type { Project } from './load.js';

/** Hex digits of the root commit kept in the identity. */
const ID_HEX = 16;

/** The identity for a root commit: `repo-<16 hex>`. Pure. */
export function identityFromRoot(rootCommit: string): string {
  return `repo-${rootCommit.toLowerCase().slice(0, ID_HEX)}`;
}

/**
 * The repository-derived identity, or undefined when HEAD has no commit yet.
 * @param root the checkout's top level
 */
export async function repositoryIdentity(git: Git, root: string): Promise<string | undefined> {
  const r = await git.raw(root, ['rev-list', '--max-parents=0', '--first-parent', 'HEAD'], { readOnly: true, accept: [0, 128] });
  const first = r.exitCode === 0 ? r.stdout.trim().split('\n')[0] : undefined;
  return first && /^[0-9a-f]{40,64}$/.test(first) ? identityFromRoot(first) : undefined;
}

/**
 * Keep an existing project on the folder name its history was recorded under: when the identity was
 * derived from the repository, the log holds no event under it yet, and it holds events under the
 * folder name, the project goes on as the folder name (`projectSource: 'folder'`). Mutates `project.config`.
 * @returns whether the folder name was kept
 */
export function settleLegacyIdentity(project: Project, store: Pick<EventStore, 'query'>): boolean {
  const c = project.config;
  if (c.projectSource !== 'repository' || project.folderProject === c.project) return false;
  // The folder name first: for a project without an old history that is an empty index range, at once.
  // (`query` sorts a project's events by sequence, so a name with many events costs a scan of them: a
  // project on its old name pays that on each command until `project:` is committed.)
  if (store.query({ project: project.folderProject, limit: 1 }).length === 0) return false;
  if (store.query({ project: c.project, limit: 1 }).length > 0) return false;
  c.project = project.folderProject;
  c.projectSource = 'folder';
  return true;
}
