/**
 * Profiles: named, composable permission sets, stored as YAML (`profiles/*.yaml` built in,
 * `<profiles.dir>/*.yaml` in the project). Pure parsing and validation.
 */
import * as z from 'zod';
import { InputError } from '../core/errors.js';
import { parseYaml, toData, validate } from '../definition/yamlSource.js';

/** Profile names follow task-id rules. */
export const PROFILE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

const glob = z
  .string()
  .min(1)
  .refine((g) => !g.startsWith('/') && !g.split('/').includes('..'), 'globs are repository-relative (or start with ~/) and contain no ".."');

const commandPrefix = z
  .string()
  .min(1)
  .refine((c) => !/[\n\0]/.test(c), 'one command prefix per entry');

/** Schema of one profile file. Unknown keys are errors, never silently ignored rules. */
export const profileSchema = z.strictObject({
  description: z.string().default(''),
  /** Another profile whose rules this one starts from (one level; cycles are refused). */
  extends: z.string().regex(PROFILE_NAME_PATTERN).optional(),
  /** Path globs the agent may read (repository-relative; `~/` for the home directory). */
  read: z.array(glob).default([]),
  /** Path globs the agent may write. */
  write: z.array(glob).default([]),
  /** Path globs the agent may neither read nor write. Beats every allow. */
  deny: z.array(glob).default([]),
  commands: z
    .strictObject({
      /** Command prefixes the agent may run (`npm test`, `git diff`); `*` allows any command. */
      allow: z.array(commandPrefix).default([]),
      /** Command prefixes the agent may never run. Beats every allow. */
      deny: z.array(commandPrefix).default([]),
    })
    .default({ allow: [], deny: [] }),
  /** Network access: true grants, false forbids (forbid wins in composition); omitted = no opinion. */
  network: z.boolean().optional(),
  /** Host environment variable names passed to the agent. */
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default([]),
  /** `paths`: narrow writes to the task's `paths` (the `careful` profile). */
  scope: z.literal('paths').optional(),
  /**
   * The OS sandbox every process of a run lives in (agent, its children, the gate, setup commands).
   * `os` (the default when no profile says otherwise): @anthropic-ai/sandbox-runtime, bubblewrap on Linux,
   * Seatbelt on macOS; the run is refused when it cannot start. `none`: no OS sandbox, said explicitly;
   * such a run is capped at `review` and its evidence never counts toward `auto`.
   */
  sandbox: z.enum(['os', 'none']).optional(),
  /** Let the tool act without asking (bypass modes). Refused for `auto` tasks; never inherited through `extends`. */
  yolo: z.boolean().default(false),
});

/** A validated profile. */
export interface Profile extends z.output<typeof profileSchema> {
  name: string;
  /** Where it came from: `builtin` or the project file path. */
  origin: string;
}

/**
 * Parse one profile file.
 * @param name profile name (the file name without `.yaml`)
 * @param file path for messages
 * @param text YAML text
 * @param origin `builtin` or the file path
 * @throws InputError naming the file, line and field
 */
export function parseProfile(name: string, file: string, text: string, origin: string): Profile {
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new InputError(`${file}: profile file name "${name}" is not a valid profile name (^[a-z0-9][a-z0-9-]{0,63}$)`, { file });
  }
  const source = parseYaml(file, text);
  const data = toData(source) ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new InputError(`${file}: a profile is a YAML mapping`, { file });
  const profile = validate(source, data, profileSchema, 'profile');
  return { ...profile, name, origin };
}
