/**
 * How every zod parse in agentctl runs: without zod's eval-compiled fast path for object schemas
 * (`jitless`). zod 4 compiles that path with `new Function` on a schema's first parse, and a command is a
 * short-lived process that parses most schemas once or a few times: measured on the event payload
 * schemas, the first parse of each cost 0.3–0.9 ms with it and 0.03–0.15 ms without, and 200 payloads
 * already compiled took 2.8 ms with it and 1.7 ms without. (Building an object schema still probes once
 * whether `new Function` works; only the global `z.config({ jitless: true })` skips that, and it would
 * have to run before every module that builds a schema.)
 * Source: zod 4 `ParseContext.jitless` ("Skip eval-based fast path"), node_modules/zod/v4/core/schemas.d.ts.
 */
export const PARSE_OPTIONS = { jitless: true } as const;
