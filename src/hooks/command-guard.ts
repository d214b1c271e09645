/**
 * Entry point of the command guard hook (see src/authz/guard.ts: shell commands, and Codex's file edits),
 * started by the agent tool, never by agentctl: `node command-guard.js <rules.json> <sha256 of it>`, hook JSON on stdin. A rules file whose
 * content does not match the hash it was started with (rewritten since agentctl wrote it) is refused. Prints a deny object and exits 0
 * to refuse; prints nothing and exits 0 to allow. Any failure of its own is a deny (fail closed): it
 * prints the deny object and also exits 2, which Codex treats as a block whatever the stdout.
 */
import { readFileSync } from 'node:fs';
import { guardDecision, guardDenyJson, guardFailure, sha256Hex, type GuardOutput, type GuardRules } from '../authz/guard.js';

function decide(): GuardOutput {
  try {
    const [file, expected] = process.argv.slice(2);
    if (!file) return guardFailure('no rules file given');
    if (!expected) return guardFailure('no rules hash given');
    const text = readFileSync(file, 'utf8');
    if (sha256Hex(text) !== expected) return guardFailure(`${file} was changed after agentctl wrote it: refusing every command`);
    const rules = JSON.parse(text) as GuardRules;
    if (!rules?.commands || !Array.isArray(rules.commands.allow) || !Array.isArray(rules.commands.deny)) return guardFailure(`${file}: not a rules file`);
    const paths = rules.files?.rules;
    if (typeof rules.files?.root !== 'string' || !paths || !['read', 'write', 'deny', 'protected'].every((k) => Array.isArray(paths[k as keyof typeof paths]))) return guardFailure(`${file}: not a rules file (no path rules)`);
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
