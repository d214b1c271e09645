/**
 * Actions for `agentctl policy check`: `Edit <path>`, `Write <path>`, `Read <path>`, `Bash <command>`,
 * `Fetch <url>` — tool-neutral names for what any agent tool can do. Pure.
 */
import { InputError } from '../core/errors.js';
import { decideCommand, decidePath, type Decision } from './check.js';
import type { Policy } from './policy.js';

/** A parsed action. */
export interface Action {
  kind: 'read' | 'write' | 'command' | 'network';
  target: string;
}

/**
 * Parse an action string.
 * @returns the action; a read/write target loses a leading `./`. That is not only for the decision
 *   (decidePath strips it too): the target is shown as parsed by `policy check` (text and `--json`).
 * @throws InputError naming the --action flag for an unknown verb or a missing target
 */
export function parseAction(text: string): Action {
  const m = text.trim().match(/^(\w+)\s+(.+)$/s);
  const verb = m?.[1]?.toLowerCase();
  const target = m?.[2]?.trim() ?? '';
  const kinds: Record<string, Action['kind']> = { edit: 'write', write: 'write', read: 'read', cat: 'read', bash: 'command', run: 'command', shell: 'command', fetch: 'network', webfetch: 'network' };
  const kind = verb ? kinds[verb] : undefined;
  if (!kind || !target) {
    throw new InputError(`--action "${text}": expected "<verb> <target>" with verb Edit, Write, Read, Bash or Fetch (e.g. 'Edit src/a.ts', 'Bash npm test')`, { field: '--action' });
  }
  return { kind, target: kind === 'read' || kind === 'write' ? target.replace(/^\.\//, '') : target };
}

/** Decide an action against a policy (network: allowed only when the policy turns it on). */
export function checkAction(policy: Policy, action: Action): Decision {
  switch (action.kind) {
    case 'read':
      return decidePath(policy, 'read', action.target);
    case 'write':
      return decidePath(policy, 'write', action.target);
    case 'command':
      return decideCommand(policy, action.target);
    case 'network':
      return policy.network.value
        ? { allowed: true, rule: { kind: 'network', value: 'network: true', source: policy.network.source } }
        : { allowed: false, rule: { kind: 'network', value: 'network: false', source: policy.network.source } };
  }
}
