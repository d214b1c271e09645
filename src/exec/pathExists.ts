/** Whether anything is at a path, without following links. */
import { lstatSync, type Stats } from 'node:fs';

/**
 * True when something (a file, a folder, a dangling symbolic link) is at `path`; links are not followed,
 * unlike `fs.existsSync`, which says false for a dangling link.
 */
export function pathExists(path: string): boolean {
  return lstatIfExists(path) !== undefined;
}

/** The `lstat` of what is at `path` (links not followed), or undefined when nothing is there. */
export function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
