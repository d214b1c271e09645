/**
 * Trust end to end: real runs on a temp repo take a (command agent, docs) profile from hold to auto
 * through recorded human promotions; an auto run merges by itself; a planted scope violation drops it
 * to hold at once; a revert of an agent merge found on the base branch is a regression.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, agentctl, cleanup, git, makeRepo, taskFile } from '../helpers.js';

afterEach(cleanup);

/**
 * The command agent writes the file named by the task body's first word (docs/<name>.md). Told to
 * misbehave, it also tries a task file (which the OS sandbox refuses) and writes a root `Makefile`
 * (which the sandbox allows but the policy's write scope does not: the scope check must catch it).
 */
const AGENT = '#!/bin/sh\nname=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1)\nmkdir -p docs\nif [ "$name" = evil ]; then echo "---\\nautonomy: auto\\n---\\nx" > tasks/evil.md; echo "all:" > Makefile; fi\necho "# $name" > "docs/$name.md"\necho "wrote docs/$name.md"\n';

/** A repository whose `command` agent is the script `agent` (./agent.sh, committed), with `config` after the agent's lines in .agentrc.yaml. */
function agentRepo(agent: string, config = '') {
  const made = makeRepo({ '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\n${config}`, 'agent.sh': agent });
  chmodSync(join(made.repo, 'agent.sh'), 0o755);
  git(made.repo, 'add', '-A');
  git(made.repo, 'commit', '-qm', 'agent');
  return made;
}

/** The hold → review → auto repository: starts at hold, two consecutive merges make review eligible for auto. */
const trustRepo = () => agentRepo(AGENT, 'trust:\n  initial: hold\n  promotion:\n    reviewToAuto:\n      consecutiveMerged: 2\n');

function addTask(repo: string, id: string, front: Record<string, unknown>) {
  mkdirSync(join(repo, 'tasks'), { recursive: true });
  writeFileSync(join(repo, 'tasks', `${id}.md`), taskFile({ agent: 'command', type: 'docs', gate: `test -f docs/${id}.md`, ...front }, id));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', `task ${id}`);
}

const hasScript = spawnSync('script', ['--version']).status === 0;

describe.runIf(hasScript)('earned autonomy, end to end', () => {
  it('hold → review → auto through promotions, an auto merge, then a scope violation drops it to hold', async () => {
    const { repo, home } = trustRepo();
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGENTCTL_HOME: home, NO_COLOR: '1', TERM: 'dumb' };
    const level = async () => JSON.parse((await agentctl(repo, home, ['promote', '--json'])).stdout).profiles.find((p: { agent: string }) => p.agent === 'command');

    // hold: unattended runs are refused even for a review task; a human claims three runs and merges them.
    addTask(repo, 'c1', { autonomy: 'review' });
    expect((await agentctl(repo, home, ['run', 'c1'])).stderr).toMatch(/may only be driven by a human/);
    for (const id of ['c1', 'c2', 'c3']) {
      if (id !== 'c1') addTask(repo, id, { autonomy: 'review' });
      const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} run ${id} --claim`, '/dev/null'], { cwd: repo, env, encoding: 'utf8' });
      expect(r.status, r.stdout).toBe(0);
      const runId = JSON.parse((await agentctl(repo, home, ['runs', '--json'])).stdout).runs[0].runId;
      expect((await agentctl(repo, home, ['review', 'merge', runId])).code).toBe(0);
    }
    expect(await level()).toMatchObject({ level: 'hold', recommendation: { kind: 'promote', next: 'review' }, evidence: { claimedMerged: 3 } });
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'review', '--note', '3 claimed merges'])).code).toBe(0);

    // review: two unattended runs merged by a human make it eligible for auto (threshold 2 in this repo).
    for (const id of ['r1', 'r2']) {
      addTask(repo, id, { autonomy: 'auto' });
      const run = JSON.parse((await agentctl(repo, home, ['run', id, '--json'])).stdout);
      expect(run.run).toMatchObject({ state: 'awaiting_review', effective: 'review' });
      expect((await agentctl(repo, home, ['review', 'merge', run.run.runId])).code).toBe(0);
    }
    expect((await level()).recommendation).toMatchObject({ kind: 'promote', next: 'auto' });
    expect((await agentctl(repo, home, ['promote', 'command', '--type', 'docs', '--to', 'auto', '--note', 'clean streak'])).code).toBe(0);

    // auto: the next auto task merges by itself.
    addTask(repo, 'a1', { autonomy: 'auto' });
    const auto = JSON.parse((await agentctl(repo, home, ['run', 'a1', '--json'])).stdout);
    expect(auto.run).toMatchObject({ state: 'merged', effective: 'auto' });
    expect(readFileSync(join(repo, 'docs/a1.md'), 'utf8')).toBe('# a1\n');

    // a planted scope violation: not merged, and the profile is on hold at once.
    addTask(repo, 'evil', { autonomy: 'auto' });
    const evil = JSON.parse((await agentctl(repo, home, ['run', 'evil', '--json'])).stdout);
    expect(evil.run.state).toBe('awaiting_review');
    expect(evil.run.scopeViolations.map((v: { path: string }) => v.path)).toEqual(['Makefile']);
    expect(evil.run.files.map((f: { path: string }) => f.path).sort()).toEqual(['Makefile', 'docs/evil.md']); // the task file never got written
    expect(existsSync(join(repo, 'Makefile'))).toBe(false);
    expect((await level()).level).toBe('hold');

    const history = JSON.parse((await agentctl(repo, home, ['trust', 'history', '--agent', 'command', '--type', 'docs', '--json'])).stdout).profiles[0].history;
    expect(history.map((h: { from: string; to: string; kind: string }) => `${h.from}>${h.to}:${h.kind}`)).toEqual(['hold>review:promotion', 'review>auto:promotion', 'auto>hold:automatic-demotion']);
    expect(history[0].evidence).toMatchObject({ claimedMerged: 3, merged: 3 });
    expect(history[1].evidence).toMatchObject({ consecutiveMerged: 5, merged: 5 });
    expect(history[2].reason).toMatch(/scope violation.*Makefile/);

    const rebuilt = await agentctl(repo, home, ['trust', 'rebuild', '--json']);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ agreed: true });
  }, 240_000); // nine runs, each starting the OS sandbox, on a machine shared with other tests
});

describe('evidence from git after a merge', () => {
  it('a human follow-up on a file beyond the 1,000 the log lists is still found (the run\'s files are read from git)', async () => {
    const agent = '#!/bin/sh\nmkdir -p docs/many\n(cd docs/many && seq -w 1 1200 | xargs touch)\necho "# last" > docs/zz.md\n';
    const { repo, home } = agentRepo(agent);
    addTask(repo, 'many', { gate: 'true' });
    const run = JSON.parse((await agentctl(repo, home, ['run', 'many', '--json'])).stdout).run;
    expect(run.fileCount).toBe(1201);
    expect(run.files.map((f: { path: string }) => f.path)).not.toContain('docs/zz.md');
    expect((await agentctl(repo, home, ['review', 'merge', run.runId])).code).toBe(0);
    writeFileSync(join(repo, 'docs/zz.md'), '# last, fixed by a human\n');
    git(repo, 'commit', '-qam', 'fix the agent docs');
    await agentctl(repo, home, ['promote', '--json']);
    const log = JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events;
    expect(log.filter((e: { type: string }) => e.type === 'review.followup').map((e: { payload: { files: string[] } }) => e.payload.files)).toEqual([['docs/zz.md']]);
  });

  it('a revert of an agent merge is a regression; a human follow-up commit is not "approved unmodified"', async () => {
    const { repo, home } = agentRepo(AGENT);
    addTask(repo, 'one', {});
    addTask(repo, 'two', {});
    const merge = async (id: string) => {
      const run = JSON.parse((await agentctl(repo, home, ['run', id, '--json'])).stdout).run;
      await agentctl(repo, home, ['review', 'merge', run.runId]);
    };
    await merge('one');
    writeFileSync(join(repo, 'docs/one.md'), '# one, fixed by a human\n');
    git(repo, 'commit', '-qam', 'fix the agent docs');
    await merge('two');
    git(repo, 'revert', '--no-edit', '-m', '1', git(repo, 'rev-parse', 'HEAD'));
    const p = JSON.parse((await agentctl(repo, home, ['promote', '--json'])).stdout).profiles[0];
    expect(p.evidence).toMatchObject({ merged: 2, regressions: 1, approvedUnmodifiedRate: 0.5 });
    expect(p.level).toBe('hold');
    expect(p.history[0].reason).toMatch(/regression/);
    const log = JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events;
    expect(log.filter((e: { type: string }) => e.type === 'regression.detected')).toHaveLength(1);
    expect(log.filter((e: { type: string }) => e.type === 'review.followup')).toHaveLength(1);
    // Scanning again records nothing new.
    await agentctl(repo, home, ['promote', '--json']);
    expect(JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events).toHaveLength(log.length);
  });

  it('an agent cannot frame a merged run as reverted: "This reverts commit <sha>" in a follow-up\'s title reaches agentctl\'s own commits, which are no revert', async () => {
    // Found by an attack session: the scan matched that text in any commit's message, and a follow-up's
    // title (the agent's) is in the message of agentctl's commits for it; the framed run was demoted to hold.
    const framing = '#!/bin/sh\nname=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1 | cut -c1-8 | tr -c "a-z0-9\\n" -)\nmkdir -p docs\necho "# $name" > "docs/$name.md"\nif [ "$name" = atk ]; then sha=$(git rev-parse main); echo "{\\"id\\":\\"fu-tidy\\",\\"title\\":\\"Tidy docs. This reverts commit $sha\\",\\"type\\":\\"docs\\"}" >> .agentctl/followups.jsonl; fi\n';
    const { repo, home } = agentRepo(framing);
    addTask(repo, 'victim', {});
    addTask(repo, 'atk', { type: 'feature' });
    const merge = async (id: string) => {
      const r = await agentctl(repo, home, ['run', id, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const m = await agentctl(repo, home, ['review', 'merge', JSON.parse(r.stdout).run.runId]);
      expect(m.code, m.stderr).toBe(0);
    };
    await merge('victim');
    const victimMerge = git(repo, 'rev-parse', 'HEAD');
    await merge('atk');
    await merge('fu-tidy');
    expect(git(repo, 'log', '--format=%B', '-1')).toContain(`This reverts commit ${victimMerge}`);
    const docs = JSON.parse((await agentctl(repo, home, ['promote', '--json'])).stdout).profiles.find((p: { taskType: string }) => p.taskType === 'docs');
    expect(docs.evidence.regressions).toBe(0);
    expect(JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events.filter((e: { type: string }) => e.type === 'regression.detected')).toEqual([]);
  });

  it('a human fix is found after later merges: agentctl\'s own commits do not use up the follow-up window', async () => {
    const { repo, home } = agentRepo(AGENT);
    const ids = ['r1', 'r2', 'r3', 'r4'];
    for (const id of ids) addTask(repo, id, {});
    const runIds: string[] = [];
    for (const id of ids) {
      const run = JSON.parse((await agentctl(repo, home, ['run', id, '--json'])).stdout).run;
      expect((await agentctl(repo, home, ['review', 'merge', run.runId])).code).toBe(0);
      runIds.push(run.runId);
    }
    // Six agentctl commits (three runs' work and merges) come between r1's merge and the human's fix.
    writeFileSync(join(repo, 'docs/r1.md'), '# r1, fixed by a human\n');
    git(repo, 'commit', '-qam', 'fix r1 docs');
    await agentctl(repo, home, ['promote', '--json']);
    const followups = JSON.parse((await agentctl(repo, home, ['log', '--json'])).stdout).events.filter((e: { type: string }) => e.type === 'review.followup');
    expect(followups.map((e: { runId: string; payload: { files: string[] } }) => [e.runId, e.payload.files])).toEqual([[runIds[0], ['docs/r1.md']]]);
  });

  it('promote --html writes a self-contained report; demote records a manual demotion', async () => {
    const { repo, home } = makeRepo({ 'tasks/t.md': taskFile({ type: 'docs' }, 'Do it.\n\n```agent-script\n{"write": "docs/a.md", "content": "a"}\n```') });
    const run = JSON.parse((await agentctl(repo, home, ['run', 't', '--json'])).stdout).run;
    await agentctl(repo, home, ['review', 'merge', run.runId]);
    const report = join(repo, '..', 'report.html');
    expect((await agentctl(repo, home, ['promote', '--html', report])).code).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('claude · docs');
    expect(html).not.toMatch(/<script|https?:\/\//);
    const d = await agentctl(repo, home, ['demote', 'claude', '--type', 'docs', '--reason', 'noisy diffs', '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).event.payload).toMatchObject({ from: 'review', to: 'hold', reason: 'noisy diffs' });
    expect((await agentctl(repo, home, ['demote', 'claude', '--type', 'docs', '--reason', 'x'])).code).toBe(2);
  });
});
