/**
 * Safe YAML parsing with positions, shared by task files, profiles and `.agentrc.yaml`.
 * Pure: text in, data out. Errors name the file, the line and the field.
 */
import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../core/errors.js';
import { PARSE_OPTIONS } from '../core/zodParse.js';

/** Largest YAML document we parse, in bytes (front matter, profiles and configs are small). */
export const MAX_YAML_BYTES = 256 * 1024;

/** A parsed YAML document plus what is needed to point at a line. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Line offset to add when the YAML was cut out of a larger file (front matter). */
  lineOffset: number;
}

/**
 * Parse YAML text. Refuses duplicate keys, custom tags, alias bombs and oversized input.
 * @param file path used in messages
 * @param text YAML text
 * @param lineOffset added to reported line numbers (0-based count of lines before `text` in `file`)
 * @throws InputError naming the file and line of the first syntax error
 */
export function parseYaml(file: string, text: string, lineOffset = 0): YamlSource {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) {
    throw new InputError(`${file}: YAML is larger than ${MAX_YAML_BYTES} bytes`, { file });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    schema: 'core',
    customTags: [],
    resolveKnownTags: false,
  });
  const first = doc.errors[0];
  if (first) {
    // prettyErrors is off, so linePos is unset: count lines from the error's offset ourselves.
    const line = lines.linePos(first.pos[0]).line + lineOffset;
    throw new InputError(`${file}:${line}: invalid YAML: ${first.message.split('\n')[0]}`, { file });
  }
  for (const warning of doc.warnings) {
    // Unknown tags (e.g. `!!js/function`, `!custom`) are warnings in `yaml`; we refuse them.
    if (warning.code === 'TAG_RESOLVE_FAILED') {
      const line = (warning.linePos?.[0]?.line ?? 0) + lineOffset;
      throw new InputError(`${file}:${line}: custom YAML tags are not allowed`, { file });
    }
  }
  return { file, doc, lines, lineOffset };
}

/**
 * Convert a parsed document to plain data.
 * @throws InputError when aliases expand beyond a small budget (alias bombs)
 */
export function toData(source: YamlSource): unknown {
  try {
    return source.doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new InputError(`${source.file}: ${(error as Error).message}`, { file: source.file });
  }
}

/** 1-based line of the node at `path` in the document, or undefined when it cannot be found. */
export function lineOf(source: YamlSource, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = source.doc.contents;
  let best: number | undefined;
  const lineAt = (n: unknown): number | undefined => {
    if (isNode(n) && n.range) return source.lines.linePos(n.range[0]).line + source.lineOffset;
    return undefined;
  };
  best = lineAt(node);
  for (const key of path) {
    if (!isNode(node)) break;
    if (isMap(node)) {
      const pair = node.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === key);
      if (!pair) break;
      best = lineAt(pair.key) ?? best;
      node = pair.value;
    } else if ('items' in node && Array.isArray((node as { items: unknown[] }).items) && typeof key === 'number') {
      node = (node as { items: unknown[] }).items[key];
      best = lineAt(node) ?? best;
    } else break;
  }
  return best;
}

/**
 * Validate YAML data against a zod schema, turning the first issue into an InputError
 * that names `file:line` and the dotted field.
 * @returns the parsed value
 * @throws InputError
 */
export function validate<T extends z.ZodType>(source: YamlSource, data: unknown, schema: T, what: string): z.output<T> {
  const result = schema.safeParse(data, PARSE_OPTIONS);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    path = [...path, key];
    message = `unknown field "${key}"`;
  }
  const field = path.length ? path.join('.') : undefined;
  const line = lineOf(source, path);
  const where = line !== undefined ? `${source.file}:${line}` : source.file;
  throw new InputError(`${where}: ${what}${field ? ` field "${field}"` : ''}: ${message}`, {
    file: source.file,
    ...(field ? { field } : {}),
  });
}
