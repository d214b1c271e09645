/** Whether anything is at a path, without following links. */
import { lstatSync } from 'node:fs';

/**
 * True when something (a file, a folder, a dangling symbolic link) is at `path`; links are not followed,
 * unlike `fs.existsSync`, which says false for a dangling link.
 */
export function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
