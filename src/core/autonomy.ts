/**
 * Autonomy levels, the one definition shared by task files (definition/task.ts) and the event schemas
 * (evidence/eventSchemas.ts). Pure, no imports, so the event layer does not load the task parser.
 */

/** The levels, ordered: hold < review < auto (DESIGN.md). */
export const AUTONOMY_LEVELS = ['hold', 'review', 'auto'] as const;
/** How much a run may do without a human: see DESIGN.md. Ordered: hold < review < auto. */
export type Autonomy = (typeof AUTONOMY_LEVELS)[number];
