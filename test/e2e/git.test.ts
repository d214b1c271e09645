/** The git module against a real temp repository. */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createGit } from '../../src/exec/git.js';
import { cleanup, git, makeRepo } from '../helpers.js';

afterEach(cleanup);

it('commitAll leaves excluded paths out of the commit, tracked or not, and never stages their deletion', async () => {
  const { repo } = makeRepo({ '.agentctl/handover.md': 'tracked\n', 'src/a.ts': 'a\n' });
  writeFileSync(join(repo, '.agentctl/handover.md'), 'changed by the agent\n');
  mkdirSync(join(repo, '.agentctl'), { recursive: true });
  writeFileSync(join(repo, '.agentctl/status.jsonl'), '{}\n');
  writeFileSync(join(repo, 'src/a.ts'), 'b\n');
  git(repo, 'add', '.agentctl/handover.md'); // the agent staged it itself
  const sha = await createGit().commitAll(repo, 'work', { name: 't', email: 't@localhost' }, ['.agentctl/handover.md', '.agentctl/status.jsonl', '.agentctl/escalate.json']);
  expect(sha).toMatch(/^[0-9a-f]{40}$/);
  expect(git(repo, 'show', '--name-status', '--format=', 'HEAD').trim()).toBe('M\tsrc/a.ts');
  expect(git(repo, 'show', 'HEAD:.agentctl/handover.md')).toBe('tracked'); // still tracked, unchanged
  expect(readFileSync(join(repo, '.agentctl/handover.md'), 'utf8')).toBe('changed by the agent\n'); // the working copy is kept
});

it('commitAll with a base: excluded files the agent committed itself are taken out again', async () => {
  const { repo } = makeRepo({ 'src/a.ts': 'a\n' });
  const base = git(repo, 'rev-parse', 'HEAD');
  mkdirSync(join(repo, '.agentctl'), { recursive: true });
  writeFileSync(join(repo, '.agentctl/status.jsonl'), '{}\n');
  writeFileSync(join(repo, 'src/a.ts'), 'b\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'agent commits everything');
  await createGit().commitAll(repo, 'capture', { name: 't', email: 't@localhost' }, ['.agentctl/status.jsonl'], base);
  expect(git(repo, 'diff', '--name-only', base, 'HEAD').split('\n')).toEqual(['src/a.ts']);
});
