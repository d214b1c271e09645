/**
 * Which files of a run's diff a reader is shown as text. Pure.
 *
 * An agent chooses its files' sizes, so the diff a reviewer reads is bounded per file and in all:
 * - a file above the big-file size on either side is never diffed (git 2.39 still reads the whole blob
 *   to say "Binary files differ": a 6 GB sparse file, 6 MB in the object store, took `review show` to
 *   6.3 GB of memory);
 * - the other files are shown smallest first while the longest diff their blobs can make fits the
 *   budget, so that bulk (three 6 MB files) cannot push a one-line change out of sight (the whole diff
 *   used to be left out).
 * What is left out is named, with its size.
 *
 * Which files are text is decided by name, not by git's guess from content: git calls a file binary when
 * its first 8,000 bytes hold a NUL, and prints only `Binary files … differ`, so one NUL in a comment hid a
 * JavaScript file's code from review. A file shows as text unless its name ends in a binary file
 * extension (the `binary-extensions` package's list: images, archives, fonts, compiled objects...).
 */
import binaryExtensions from 'binary-extensions';

/**
 * Extensions of the package's list that name text formats, some of them code: Jest snapshots (`snap`,
 * evaluated as JavaScript), X bitmaps (`xbm`, `xpm`: C source), shell archives (`shar`), device trees
 * (`dts`), gettext templates (`pot`), backups of text files (`bak`), PEM keys (`key`), graphviz (`dot`)...
 * Those show as text.
 */
const TEXT_FORMATS: ReadonlySet<string> = new Set(['bak', 'dot', 'dts', 'dxf', 'fbs', 'key', 'm3u', 'mht', 'pdb', 'pot', 'rtf', 'shar', 'slk', 'snap', 'sub', 'xbm', 'xpm']);

const BINARY_EXTENSIONS: ReadonlySet<string> = new Set(binaryExtensions.map((e) => e.toLowerCase()).filter((e) => !TEXT_FORMATS.has(e)));

/**
 * Whether a file's name ends in a binary file extension (any case): `docs/logo.PNG`, `a/.png`; not
 * `src/app.js` nor `Makefile`. The same rule as {@link BINARY_NAME_PATHSPECS}.
 * @param path repository-relative path
 */
export function hasBinaryName(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot >= 0 && BINARY_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

/**
 * git pathspecs (glob magic, any case: any folder, then `*.<ext>`; one per extension, ~270) that match
 * exactly the files {@link hasBinaryName} accepts: a fixed list, whatever the run changed. With `exclude`
 * added to their magic, they leave those files out.
 */
export const BINARY_NAME_PATHSPECS: readonly string[] = [...BINARY_EXTENSIONS].map((e) => `:(glob,icase)**/*.${e}`);

/** One changed file with its blob sizes in bytes (0 for a side that does not exist). */
export interface DiffFile {
  path: string;
  oldBytes: number;
  newBytes: number;
}

/** The choice: the files left out of the text (the rest are shown). */
export interface DiffSelection {
  /** Files not diffed, in the diff's order, with the larger of their two sizes in bytes. */
  leftOut: { path: string; bytes: number; why: 'large' | 'budget' }[];
}

/**
 * Choose the files to diff.
 * @param files every changed file (in git's order)
 * @param bigBytes a file with a side above this many bytes is left out (`large`)
 * @param budgetBytes the other files are taken smallest first (by old + new bytes) while twice their sum
 *   (the longest diff they can make) stays within this many bytes; the rest are left out (`budget`)
 * @returns the files left out, in the order of `files`
 */
export function selectDiffFiles(files: readonly DiffFile[], bigBytes: number, budgetBytes: number): DiffSelection {
  const out = new Map<string, { bytes: number; why: 'large' | 'budget' }>();
  const small: DiffFile[] = [];
  for (const f of files) {
    if (Math.max(f.oldBytes, f.newBytes) > bigBytes) out.set(f.path, { bytes: Math.max(f.oldBytes, f.newBytes), why: 'large' });
    else small.push(f);
  }
  // A diff line is its text plus a `+`/`-`: at most twice the text (a file of empty lines), so a file
  // counts twice its two blobs (git's own output limit still stops the rare diff that headers push over).
  let used = 0;
  for (const f of [...small].sort((a, b) => a.oldBytes + a.newBytes - (b.oldBytes + b.newBytes))) {
    used += 2 * (f.oldBytes + f.newBytes);
    if (used > budgetBytes) out.set(f.path, { bytes: Math.max(f.oldBytes, f.newBytes), why: 'budget' });
  }
  return { leftOut: files.filter((f) => out.has(f.path)).map((f) => ({ path: f.path, ...out.get(f.path)! })) };
}
