/**
 * The "team" fixtures of the PostgreSQL e2e tests: a project whose `command` agent writes a docs file, a
 * bare repository as the shared remote, clones of it ("machines"), and AGENTCTL_HOMEs sharing a team key.
 */
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, taskFile, tempDir } from '../helpers.js';

/** A `command` agent: writes docs/<first prompt line>.md; a task whose prompt starts with `slow-` sleeps 600 s first. */
export const DOCS_AGENT = '#!/bin/sh\nname=$(printf "%s" "$AGENTCTL_PROMPT" | head -n1)\ncase "$name" in slow-*) sleep 600 ;; esac\nmkdir -p docs\necho "# $name" > "docs/$name.md"\n';

/** A docs task whose prompt is its id (so the agent writes docs/<id>.md). */
export function docsTask(id: string, front: Record<string, unknown> = {}): string {
  return taskFile({ agent: 'command', type: 'docs', autonomy: 'review', ...front }, id);
}

/**
 * A new repository at `dir` (branch main) with `.agentrc.yaml` (the command agent, plus `extraConfig`),
 * agent.sh ({@link DOCS_AGENT}) and `tasks/<id>.md` for each entry of `tasks`, committed.
 * @param tasks task id → task file text (e.g. {@link docsTask})
 * @returns `dir`
 */
export function docsProject(dir: string, tasks: Record<string, string>, extraConfig = ''): string {
  mkdirSync(join(dir, 'tasks'), { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 'dev@example.com');
  git(dir, 'config', 'user.name', 'Dev');
  git(dir, 'config', 'gc.auto', '0');
  writeFileSync(join(dir, '.agentrc.yaml'), `agents:\n  command:\n    bin: ./agent.sh\n${extraConfig}`);
  writeFileSync(join(dir, 'agent.sh'), DOCS_AGENT);
  chmodSync(join(dir, 'agent.sh'), 0o755);
  for (const [id, text] of Object.entries(tasks)) writeFileSync(join(dir, 'tasks', `${id}.md`), text);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'initial');
  return dir;
}

/**
 * A bare remote (`<base>/remote.git`) of a {@link docsProject}, cloned once per name (`<base>/<name>`),
 * each clone with its own git identity (`<name>@example.com`).
 * @returns the remote's path and the clones' paths, in the order of `names`
 */
export function sharedRemote(tasks: Record<string, string>, names: readonly string[], extraConfig = ''): { base: string; remote: string; clones: string[] } {
  const base = tempDir();
  docsProject(join(base, 'seed'), tasks, extraConfig);
  git(base, 'clone', '-q', '--bare', join(base, 'seed'), 'remote.git');
  const remote = join(base, 'remote.git');
  const clones = names.map((name) => {
    git(base, 'clone', '-q', remote, name);
    const dir = join(base, name);
    git(dir, 'config', 'user.email', `${name}@example.com`);
    git(dir, 'config', 'user.name', name);
    git(dir, 'config', 'gc.auto', '0');
    return dir;
  });
  return { base, remote, clones };
}

/** Another machine's AGENTCTL_HOME (a new temp folder) holding the team key of `home`. @returns its path */
export function homeSharingTeamKey(home: string, name = 'home'): string {
  const other = join(tempDir(), name);
  mkdirSync(join(other, 'keys'), { recursive: true, mode: 0o700 });
  copyFileSync(join(home, 'keys', 'team.key'), join(other, 'keys', 'team.key'));
  return other;
}
