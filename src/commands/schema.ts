/**
 * `agentctl schema <profile|config|task>`: the JSON Schema (draft 2020-12) of profile files,
 * `.agentrc.yaml` and task front matter, generated from the same zod schemas agentctl validates with,
 * for editors (e.g. `# yaml-language-server: $schema=./profile.schema.json`).
 */
import * as z from 'zod';
import { profileSchema } from '../authz/profile.js';
import { EXIT, InputError } from '../core/errors.js';
import { configSchema } from '../definition/config.js';
import { taskFrontMatterSchema } from '../definition/task.js';
import { printJson } from '../ui/output.js';

const SCHEMAS = { profile: profileSchema, config: configSchema, task: taskFrontMatterSchema } as const;

/** The JSON Schema for one kind of file (input shape: what a user writes, defaults included). */
function jsonSchemaFor(kind: keyof typeof SCHEMAS): Record<string, unknown> {
  return { title: `agentctl ${kind}`, ...z.toJSONSchema(SCHEMAS[kind], { io: 'input', unrepresentable: 'any' }) };
}

export default async function schema(kind: string): Promise<number> {
  if (!(kind in SCHEMAS)) throw new InputError(`unknown schema "${kind}" (one of ${Object.keys(SCHEMAS).join(', ')})`, { field: 'kind' });
  printJson(jsonSchemaFor(kind as keyof typeof SCHEMAS));
  return EXIT.OK;
}
