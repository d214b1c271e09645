/**
 * A project's name selects what the local log holds for it: its runs, follow-up requests, trust and
 * circuit breakers. An attack session showed a cloned repository could name itself after another one
 * (`project:` in its `.agentrc.yaml`, or a fork's name derived from the shared root commit) and add its
 * runs to that project's lists and evidence. A name belongs to the first clone on this machine that
 * used it; another clone using it needs `agentctl approve` before it runs agents or records git evidence.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentctl, cleanup, git, taskFile, tempDir } from '../helpers.js';

afterEach(cleanup);

const AGENT = '#!/bin/sh\nname=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1)\nmkdir -p docs\necho "# $name" > "docs/$name.md"\n';

/** A repository at `<base>/<folder>` whose command agent writes docs/<task>.md, with tasks `ids`. */
function repoWithTasks(base: string, folder: string, config: string, ids: string[]): string {
  const repo = join(base, folder);
  mkdirSync(join(repo, 'tasks'), { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', `${folder}@example.com`);
  git(repo, 'config', 'user.name', folder);
  writeFileSync(join(repo, '.agentrc.yaml'), `agents:\n  command:\n    bin: ./agent.sh\n${config}`);
  writeFileSync(join(repo, 'agent.sh'), AGENT);
  chmodSync(join(repo, 'agent.sh'), 0o755);
  for (const id of ids) writeFileSync(join(repo, 'tasks', `${id}.md`), taskFile({ agent: 'command', type: 'docs' }, id));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', `${folder}: initial`);
  return repo;
}

const runIds = async (repo: string, home: string): Promise<string[]> => JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs.map((r: { runId: string }) => r.runId);
const eventsOf = async (repo: string, home: string, type: string) => JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events.filter((e: { type: string }) => e.type === type);

describe('a project name belongs to the first clone on this machine that used it', () => {
  it('a repository that names itself after another project cannot run under that name until approved', async () => {
    const base = tempDir();
    const home = join(base, 'home');
    const shop = repoWithTasks(base, 'shop', 'project: shop\n', ['docs-a']);
    const r0 = await agentctl(shop, home, ['run', 'docs-a', '--json']);
    expect(r0.code, r0.stderr).toBe(0);
    const shopRun = JSON.parse(r0.stdout).run.runId as string;

    const evil = repoWithTasks(base, 'evil', 'project: shop\n', ['evil-task']);
    // Reading is allowed (the person's own machine); the name's other clone is shown where it matters.
    expect((await agentctl(evil, home, ['tasks', '--json'])).code).toBe(0);
    const refused = await agentctl(evil, home, ['run', 'evil-task']);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('"project": "shop"');
    expect(refused.stderr).toContain(JSON.stringify(shop));
    const code = /agentctl approve ([0-9a-f]{16})/.exec(refused.stderr)?.[1];
    expect(code).toBeDefined();
    // Nothing of the refused run reached the shop project's lists.
    expect(await runIds(shop, home)).toEqual([shopRun]);
    const doctor = JSON.parse((await agentctl(evil, home, ['doctor', '--json'])).stdout);
    expect(doctor.checks.settings).toMatchObject({ status: 'fail', data: { unapproved: ['project'], code } });

    // The first clone needs nothing, and a second command there claims nothing new.
    const r1 = await agentctl(shop, home, ['run', 'docs-a', '--json']);
    expect(r1.code, r1.stderr).toBe(0);

    // Approved with the code a refusal printed, the second clone runs under the shared name.
    const approved = await agentctl(evil, home, ['approve', code!]);
    expect(approved.code, approved.stderr).toBe(0);
    const r2 = await agentctl(evil, home, ['run', 'evil-task', '--json']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(await runIds(shop, home)).toContain(JSON.parse(r2.stdout).run.runId);
  });

  it('a damaged names file is named, and changes nothing', async () => {
    const base = tempDir();
    const home = join(base, 'home');
    const shop = repoWithTasks(base, 'shop', 'project: shop\n', ['docs-a']);
    mkdirSync(join(home, 'approvals'), { recursive: true });
    writeFileSync(join(home, 'approvals', 'projects.json'), '{"names": {"shop": {"key": 1}}}');
    const r = await agentctl(shop, home, ['tasks']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${join(home, 'approvals', 'projects.json')} is malformed: the entry of "shop" has no key and root`);
    expect(readFileSync(join(home, 'approvals', 'projects.json'), 'utf8')).toBe('{"names": {"shop": {"key": 1}}}');
  });

  it('a fork holding a revert of the project\'s merge records no regression for it until approved', async () => {
    const base = tempDir();
    const home = join(base, 'home');
    const origin = repoWithTasks(base, 'origin', '', ['docs-b']);
    const run = JSON.parse((await agentctl(origin, home, ['run', 'docs-b', '--json'])).stdout).run;
    expect((await agentctl(origin, home, ['review', 'merge', run.runId])).code).toBe(0);
    const merge = git(origin, 'rev-parse', 'HEAD');

    // The fork shares the root commit, so its derived name is the origin's.
    git(base, 'clone', '-q', origin, 'fork');
    const fork = join(base, 'fork');
    git(fork, 'config', 'user.email', 'fork@example.com');
    git(fork, 'config', 'user.name', 'fork');
    git(fork, 'revert', '--no-edit', '-m', '1', merge);
    expect((await agentctl(fork, home, ['promote', '--json'])).code).toBe(0);
    expect(await eventsOf(fork, home, 'regression.detected')).toEqual([]);
    const refused = await agentctl(fork, home, ['run', 'docs-b']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/"project": "repo-[0-9a-f]{16}"/);

    // In the clone that owns the name, the same revert (pulled) is a regression, as before.
    git(origin, 'pull', '-q', '--no-rebase', fork, 'main');
    const p = JSON.parse((await agentctl(origin, home, ['promote', '--json'])).stdout).profiles[0];
    expect(p.evidence).toMatchObject({ regressions: 1 });
    expect(await eventsOf(origin, home, 'regression.detected')).toHaveLength(1);
  });
});
