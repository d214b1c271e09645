/**
 * Loading the definition layer from disk: the project (repository + `.agentrc.yaml`), its task files
 * and its profiles. Bad files are returned as errors beside the good ones, so one broken file names
 * itself and hides nothing else.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { InputError } from '../core/errors.js';
import { builtinProfilesDir, projectKey } from '../core/paths.js';
import { parseProfile, type Profile } from '../authz/profile.js';
import { requireRepo, type Git } from '../exec/git.js';
import { CONFIG_FILE, parseConfig, sanitizeProject, type ProjectConfig } from './config.js';
import { repositoryIdentity } from './identity.js';
import { parseTaskFile, splitFrontMatter, MAX_TASK_FILE_BYTES, type Task } from './task.js';
import { lstatIfExists } from '../exec/pathExists.js';

/** A repository agentctl works on. */
export interface Project {
  /** Absolute path of the user's checkout (top level of the working tree agentctl was started in). */
  root: string;
  /** Absolute path of the common git directory. */
  commonDir: string;
  /** Filesystem-safe key for AGENTCTL_HOME subfolders. */
  key: string;
  config: ProjectConfig;
  /** The project name older versions derived from the folder (identity.ts keeps it while a log's history is only there). */
  folderProject: string;
}

/** Items that loaded and the errors of those that did not. */
export interface Loaded<T> {
  items: T[];
  errors: InputError[];
}

/**
 * Find the repository containing `cwd` and read its `.agentrc.yaml`.
 * @throws ConfigError when `cwd` is not in a git repository
 * @throws InputError when `.agentrc.yaml` is invalid
 */
export async function loadProject(git: Git, cwd: string): Promise<Project> {
  const { root, commonDir } = await requireRepo(git, cwd);
  const text = readRepositoryFile(root, CONFIG_FILE, MAX_DEFINITION_FILE_BYTES);
  let config = parseConfig(root, text, basename(root));
  if (config.projectSource !== 'config') {
    const id = await repositoryIdentity(git, root);
    if (id) config = { ...config, project: id, projectSource: 'repository' };
  }
  return { root, commonDir, key: projectKey(commonDir), config, folderProject: sanitizeProject(basename(root)) };
}

/** Largest `.agentrc.yaml` read, in bytes (256 KiB; task files have MAX_TASK_FILE_BYTES). */
export const MAX_DEFINITION_FILE_BYTES = 256 * 1024;

/**
 * Largest project profile read, in bytes (16 KiB; a profile's rules take a few), and most project
 * profiles read (32). Every command reads every profile, and YAML is the cost: 64 profiles of 32 KiB
 * took 7 s per command; at these limits ~2 s at most.
 */
export const MAX_PROFILE_FILE_BYTES = 16 * 1024;
/** Most project profile files read (see {@link MAX_PROFILE_FILE_BYTES}); more is an error naming the folder, and none is read. */
export const MAX_PROJECT_PROFILES = 32;

/**
 * Largest front matter of all task files together, in bytes (1 MiB: a thousand tasks take a third of
 * it). Task files past it are refused, named, unread: one 8 KiB front matter takes ~24 ms to parse, so
 * 2,000 such files (a small git pack) would add ~50 s to every command; this bounds it to ~3 s.
 */
export const MAX_FRONT_MATTER_TOTAL_BYTES = 1024 * 1024;

/**
 * What agentctl itself reads from the repository (`.agentrc.yaml`, task files, profiles) must be in it:
 * a cloned repository's `tasks -> /home/me/notes` made an outside file a task, its text the prompt an
 * agent got, and `.agentrc.yaml -> /dev/zero` made `agentctl tasks` grow to gigabytes. Every part of the
 * path below the checkout is looked at without following a link.
 * @param root the checkout (absolute); @param rel a repository-relative path
 * @returns false when the path does not exist
 * @throws InputError naming the part that is a symbolic link, or a folder part that is not a folder
 */
function inRepository(root: string, rel: string): boolean {
  const parts = rel.split('/').filter((p) => p && p !== '.');
  for (let i = 0; i < parts.length; i++) {
    const part = parts.slice(0, i + 1).join('/');
    let st;
    try {
      st = lstatSync(join(root, part));
    } catch {
      return false;
    }
    if (st.isSymbolicLink()) throw new InputError(`${part}: a symbolic link, which agentctl does not follow out of the repository`, { file: part });
    if (i < parts.length - 1 && !st.isDirectory()) throw new InputError(`${part}: not a folder`, { file: part });
  }
  return true;
}

/** {@link inRepository} for a folder to list, its error added to `errors`: false when it is missing or refused. */
function folderInRepository(root: string, dir: string, errors: InputError[]): boolean {
  try {
    return inRepository(root, relative(root, dir));
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    errors.push(error);
    return false;
  }
}

/**
 * Read a file of the repository: a regular file inside it ({@link inRepository}) of at most `maxBytes`,
 * opened without following a link or waiting on a FIFO.
 * @param root the checkout (absolute); @param rel a repository-relative path
 * @returns the text (UTF-8), or undefined when there is no such file
 * @throws InputError (naming the file) for a link, a FIFO or device, a folder, a file above `maxBytes`,
 *   or one that cannot be opened
 */
export function readRepositoryFile(root: string, rel: string, maxBytes: number): string | undefined {
  if (!inRepository(root, rel)) return undefined;
  let fd: number;
  try {
    fd = openSync(join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    // A link swapped in since the look (ELOOP), a socket (ENXIO), no permission: named, not a crash.
    throw new InputError(`${rel}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { file: rel });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${rel}: not a regular file`, { file: rel });
    if (st.size > maxBytes) throw new InputError(`${rel}: larger than ${maxBytes} bytes`, { file: rel });
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Markdown files below `dir` (recursive, sorted, symlinks skipped and reported); `dir` itself must be in the repository. */
function markdownFiles(dir: string, errors: InputError[], root: string): string[] {
  if (!folderInRepository(root, dir, errors)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      errors.push(new InputError(`${relative(root, full)}: task files may not be symbolic links`, { file: relative(root, full) }));
    } else if (entry.isDirectory()) out.push(...markdownFiles(full, errors, root));
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.md') && entry.name.toLowerCase() !== 'readme.md') out.push(full);
  }
  return out;
}

/**
 * Load every task file of the project (`<tasks.dir>/**\/*.md`, README.md excluded).
 * Duplicate ids are errors for every file after the first.
 */
export function loadTasks(project: Project): Loaded<Task> {
  const errors: InputError[] = [];
  const items: Task[] = [];
  const seen = new Map<string, string>();
  let frontMatter = 0;
  for (const full of markdownFiles(join(project.root, project.config.tasksDir), errors, project.root)) {
    const file = relative(project.root, full);
    try {
      const text = readRepositoryFile(project.root, file, MAX_TASK_FILE_BYTES) ?? '';
      // Every command reads every task file: their front matter together is bounded too (YAML is the cost).
      frontMatter += Buffer.byteLength(splitFrontMatter(file, text).yaml);
      if (frontMatter > MAX_FRONT_MATTER_TOTAL_BYTES) throw new InputError(`${file}: not read: the task files' front matter is above ${MAX_FRONT_MATTER_TOTAL_BYTES} bytes in all`, { file });
      const task = parseTaskFile(file, text, project.config.taskDefaults);
      const other = seen.get(task.id);
      if (other) throw new InputError(`${file}: task field "id": "${task.id}" is already used by ${other}`, { file, field: 'id' });
      seen.set(task.id, file);
      items.push(task);
    } catch (error) {
      if (error instanceof InputError) errors.push(error);
      else throw error;
    }
  }
  items.sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  return { items, errors };
}

/**
 * Find one task by id.
 * @throws InputError when the id is malformed, unknown, or its file is invalid (the file's own error)
 */
export function findTask(project: Project, id: string): Task {
  const { items, errors } = loadTasks(project);
  const task = items.find((t) => t.id === id);
  if (task) return task;
  const own = errors.find((e) => e.file !== undefined && basename(e.file, '.md') === id);
  if (own) throw own;
  // The tasks folder itself refused (a link out of the repository): that is why no task is found.
  const dir = project.config.tasksDir;
  const folder = errors.find((e) => e.file !== undefined && (dir === e.file || dir.startsWith(`${e.file}/`)));
  if (folder) throw folder;
  throw new InputError(`no task "${id}" in ${project.config.tasksDir}/`, { hint: 'List tasks with: agentctl tasks' });
}

function loadProfileDir(dir: string, origin: (file: string) => string, root: string | undefined, into: Map<string, Profile>, errors: InputError[]): void {
  if (root ? !folderInRepository(root, dir, errors) : !lstatIfExists(dir)) return;
  const names = readdirSync(dir).sort().filter((name) => /\.ya?ml$/.test(name));
  if (root && names.length > MAX_PROJECT_PROFILES) {
    const folder = relative(root, dir);
    errors.push(new InputError(`${folder}: ${names.length} profile files, more than the ${MAX_PROJECT_PROFILES} a project may have; none was read`, { file: folder }));
    return;
  }
  for (const name of names) {
    const full = join(dir, name);
    const file = root ? relative(root, full) : full;
    try {
      if (lstatSync(full).isSymbolicLink()) throw new InputError(`${file}: profiles may not be symbolic links`, { file });
      const profileName = name.replace(/\.ya?ml$/, '');
      if (into.has(profileName)) {
        throw new InputError(`${file}: profile "${profileName}" is built in; choose another name`, { file });
      }
      const text = root ? readRepositoryFile(root, file, MAX_PROFILE_FILE_BYTES) : readFileSync(full, 'utf8');
      into.set(profileName, parseProfile(profileName, file, text ?? '', origin(file)));
    } catch (error) {
      if (error instanceof InputError) errors.push(error);
      else throw error;
    }
  }
}

/** Load built-in profiles, then the project's (which may not reuse a built-in name). */
export function loadProfiles(project: Project): { profiles: Map<string, Profile>; errors: InputError[] } {
  const profiles = new Map<string, Profile>();
  const errors: InputError[] = [];
  loadProfileDir(builtinProfilesDir(), () => 'builtin', undefined, profiles, errors);
  loadProfileDir(join(project.root, project.config.profilesDir), (f) => f, project.root, profiles, errors);
  return { profiles, errors };
}
