/**
 * Entry point of the command guard hook (see src/authz/guard.ts), started by the agent tool, never by
 * agentctl: `node command-guard.js <rules.json>`, hook JSON on stdin. Prints a deny object and exits 0
 * to refuse; prints nothing and exits 0 to allow. Any failure of its own is a deny (fail closed): it
 * prints the deny object and also exits 2, which Codex treats as a block whatever the stdout.
 */
import { readFileSync } from 'node:fs';
import { guardDecision, guardDenyJson, guardFailure, type GuardOutput, type GuardRules } from '../authz/guard.js';

function decide(): GuardOutput {
  try {
    const file = process.argv[2];
    if (!file) return guardFailure('no rules file given');
    const rules = JSON.parse(readFileSync(file, 'utf8')) as GuardRules;
    if (!rules?.commands || !Array.isArray(rules.commands.allow) || !Array.isArray(rules.commands.deny)) return guardFailure(`${file}: not a rules file`);
    const input = JSON.parse(readFileSync(0, 'utf8')) as unknown;
    return guardDecision(rules, input);
  } catch (error) {
    return guardFailure((error as Error).message);
  }
}

const out = decide();
if (!out.allow) {
  process.stdout.write(JSON.stringify(guardDenyJson(out.reason)) + '\n');
  if (out.failed) {
    process.stderr.write(out.reason + '\n');
    process.exitCode = 2;
  }
}
