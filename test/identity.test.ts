/**
 * Project identity: the same on every machine (from the committed config, else the root commit), never
 * the folder name; a log recorded under the folder name by older versions keeps its history.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProject } from '../src/definition/load.js';
import { identityFromRoot, settleLegacyIdentity } from '../src/definition/identity.js';
import { createGit } from '../src/exec/git.js';
import { openEventStore } from '../src/evidence/store.js';
import { openContext } from '../src/orchestrator/context.js';
import { cleanup, git, makeRepo, tempDir } from './helpers.js';
import { sample } from './fixtures/eventSamples.js';

afterEach(cleanup);

const gitApi = createGit({ env: process.env });

describe('project identity', () => {
  it('two clones in differently named folders get the same identity, from the root commit', async () => {
    const { repo } = makeRepo();
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'second');
    const base = tempDir();
    git(base, 'clone', '-q', repo, 'elsewhere-named');
    const a = await loadProject(gitApi, repo);
    const b = await loadProject(gitApi, join(base, 'elsewhere-named'));
    const root = git(repo, 'rev-list', '--max-parents=0', 'HEAD');
    expect(a.config.project).toBe(identityFromRoot(root));
    expect(b.config).toMatchObject({ project: a.config.project, projectSource: 'repository' });
    expect(a.folderProject).toBe('repo');
    expect(b.folderProject).toBe('elsewhere-named');
  });

  it('a committed `project:` wins; a repository without a commit falls back to the folder name', async () => {
    const { repo } = makeRepo({ '.agentrc.yaml': 'project: team-app\n' });
    expect((await loadProject(gitApi, repo)).config).toMatchObject({ project: 'team-app', projectSource: 'config' });
    const empty = join(tempDir(), 'Fresh Repo');
    mkdirSync(empty);
    git(empty, 'init', '-q', '-b', 'main');
    expect((await loadProject(gitApi, empty)).config).toMatchObject({ project: 'fresh-repo', projectSource: 'folder' });
  });

  it('a log recorded under the folder name keeps its history: the project stays on that name until it has events under the new one', async () => {
    const { repo, home } = makeRepo();
    const project = await loadProject(gitApi, repo);
    const store = openEventStore(join(home, 'agentctl.db'));
    // Nothing under either name: the repository identity.
    expect(settleLegacyIdentity(structuredClone(project), store)).toBe(false);
    // An older version recorded this project under its folder name.
    store.append({ type: 'run.merged', project: 'repo', runId: 'old', payload: sample('run.merged') });
    const legacy = structuredClone(project);
    expect(settleLegacyIdentity(legacy, store)).toBe(true);
    expect(legacy.config).toMatchObject({ project: 'repo', projectSource: 'folder' });
    store.close();
    // Every command's context does the same.
    const ctx = await openContext(repo, { ...process.env, AGENTCTL_HOME: home, AGENTCTL_STORE: '' });
    expect(ctx.project.config.project).toBe('repo');
    ctx.close();
    // Once the log has events under the repository identity, it is used (no flapping back).
    const again = openEventStore(join(home, 'agentctl.db'));
    again.append({ type: 'run.merged', project: project.config.project, runId: 'new', payload: sample('run.merged') });
    const settled = structuredClone(project);
    expect(settleLegacyIdentity(settled, again)).toBe(false);
    expect(settled.config.project).toBe(project.config.project);
    again.close();
  });
});
