/**
 * Loading the definition layer from disk: the project (repository + `.agentrc.yaml`), its task files
 * and its profiles. Bad files are returned as errors beside the good ones, so one broken file names
 * itself and hides nothing else.
 */
import { lstatSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { InputError } from '../core/errors.js';
import { builtinProfilesDir, projectKey } from '../core/paths.js';
import { parseProfile, type Profile } from '../authz/profile.js';
import { requireRepo, type Git } from '../exec/git.js';
import { CONFIG_FILE, parseConfig, sanitizeProject, type ProjectConfig } from './config.js';
import { repositoryIdentity } from './identity.js';
import { parseTaskFile, MAX_TASK_FILE_BYTES, type Task } from './task.js';

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
  const configPath = join(root, CONFIG_FILE);
  const text = existsSync(configPath) ? readFileSync(configPath, 'utf8') : undefined;
  let config = parseConfig(root, text, basename(root));
  if (config.projectSource !== 'config') {
    const id = await repositoryIdentity(git, root);
    if (id) config = { ...config, project: id, projectSource: 'repository' };
  }
  return { root, commonDir, key: projectKey(commonDir), config, folderProject: sanitizeProject(basename(root)) };
}

/** Markdown files below `dir` (recursive, sorted, symlinks skipped and reported). */
function markdownFiles(dir: string, errors: InputError[], root: string): string[] {
  if (!existsSync(dir)) return [];
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
  for (const full of markdownFiles(join(project.root, project.config.tasksDir), errors, project.root)) {
    const file = relative(project.root, full);
    try {
      if (lstatSync(full).size > MAX_TASK_FILE_BYTES) throw new InputError(`${file}: larger than ${MAX_TASK_FILE_BYTES} bytes`, { file });
      const task = parseTaskFile(file, readFileSync(full, 'utf8'), project.config.taskDefaults);
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
  throw new InputError(`no task "${id}" in ${project.config.tasksDir}/`, { hint: 'List tasks with: agentctl tasks' });
}

function loadProfileDir(dir: string, origin: (file: string) => string, root: string | undefined, into: Map<string, Profile>, errors: InputError[]): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(name)) continue;
    const full = join(dir, name);
    const file = root ? relative(root, full) : full;
    try {
      if (lstatSync(full).isSymbolicLink()) throw new InputError(`${file}: profiles may not be symbolic links`, { file });
      const profileName = name.replace(/\.ya?ml$/, '');
      if (into.has(profileName)) {
        throw new InputError(`${file}: profile "${profileName}" is built in; choose another name`, { file });
      }
      into.set(profileName, parseProfile(profileName, file, readFileSync(full, 'utf8'), origin(file)));
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
