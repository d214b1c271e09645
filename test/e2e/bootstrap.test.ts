/**
 * Worktree bootstrap on a real Node project (issue 10): dependencies installed in the checkout,
 * `node_modules` gitignored, `gate: npm test` whose test requires the dependency. The dependency is a
 * local tarball (`file:vendor/tinydep-1.0.0.tgz`), so `npm install` and `npm ci` need no registry.
 *
 * - no bootstrap: a fresh worktree has no dependencies, the gate fails with MODULE_NOT_FOUND;
 * - `worktree.shared: [node_modules]`: the gate passes, and the agent cannot change the checkout's copy;
 * - `worktree.setup: [npm ci --prefer-offline]`: the gate passes (offline);
 * - in both the checkout's `node_modules` is byte-identical afterwards (a hash of the tree);
 * - a failing setup stops the run before the agent; a denied path in shared/copy is refused before any
 *   worktree; two parallel runs get different ports; teardown runs, sandboxed, when the run is discarded.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentctl, approveRepo, cleanup, git, makeRepo, taskFile, tempDir } from '../helpers.js';

afterEach(cleanup);

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);
const DEP_SECRET = 'DEP_TOKEN=nm-s3cr3t-77';

/** Attacks on the shared copy, run by the agent: each prints `<what> ALLOWED|denied`. */
const ATTACK_SHARED = (repo: string) => `
echo "// pwned" >> node_modules/tinydep/index.js 2>/dev/null && echo "append ALLOWED" || echo "append denied"
echo "// pwned" >> ${repo}/node_modules/tinydep/index.js 2>/dev/null && echo "append-direct ALLOWED" || echo "append-direct denied"
touch node_modules/planted.js 2>/dev/null && echo "plant ALLOWED" || echo "plant denied"
rm -rf node_modules/tinydep/ 2>/dev/null; [ -f node_modules/tinydep/index.js ] && echo "remove denied" || echo "remove ALLOWED"
cat node_modules/tinydep/.env 2>/dev/null && echo "read-env ALLOWED" || echo "read-env denied"
`;

/**
 * A Node project whose test needs its dependency, installed in the checkout (node_modules gitignored).
 * @param worktree the `.agentrc.yaml` `worktree:` block as YAML lines (indented two spaces), or ''
 * @param agent the command agent's script body after it writes docs/x.md (or a function of the checkout's path)
 */
function nodeProject(worktree: string, agent: string | ((repo: string) => string) = '', tasks: Record<string, string> = { 'tasks/t.md': taskFile({ agent: 'command', type: 'docs', gate: 'npm test' }, 'write docs') }) {
  const made = makeRepo({
    '.gitignore': 'node_modules/\n',
    'package.json': JSON.stringify({ name: 'app', version: '1.0.0', scripts: { test: 'node test.js' }, dependencies: { tinydep: 'file:vendor/tinydep-1.0.0.tgz' } }),
    'test.js': 'const d = require("tinydep");\nif (d() !== 42) process.exit(1);\nconsole.log("dep ok");\n',
    '.agentrc.yaml': `agents:\n  command:\n    bin: ./agent.sh\n${worktree ? `worktree:\n${worktree}\n` : ''}`,
    ...tasks,
  });
  const { repo } = made;
  writeFileSync(join(repo, 'agent.sh'), `#!/bin/sh\nmkdir -p docs\necho hi > docs/x.md\n${typeof agent === 'function' ? agent(repo) : agent}\n`);
  chmodSync(join(repo, 'agent.sh'), 0o755);
  const dep = join(dirname(repo), 'dep');
  mkdirSync(dep);
  writeFileSync(join(dep, 'package.json'), JSON.stringify({ name: 'tinydep', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(dep, 'index.js'), 'module.exports = () => 42;\n');
  mkdirSync(join(repo, 'vendor'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', join(repo, 'vendor')], { cwd: dep, stdio: 'pipe' });
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent'], { cwd: repo, stdio: 'pipe' });
  // A secret inside the installed tree: the policy denies `.env` everywhere, shared folders included.
  writeFileSync(join(repo, 'node_modules', 'tinydep', '.env'), `${DEP_SECRET}\n`);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'node project');
  expect(git(repo, 'status', '--porcelain')).toBe('');
  if (/\b(copy|network|read|shared):/.test(worktree)) approveRepo(repo, made.home); // the user approves these
  return made;
}

/** A hash of a folder tree: every entry's path, kind, mode and bytes (or link target). */
function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const r = `${rel}/${name}`;
      const st = lstatSync(path);
      h.update(`${r}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(`link:${readlinkSync(path)}\0`);
      else if (st.isDirectory()) walk(path, r);
      else h.update(readFileSync(path)).update('\0');
    }
  };
  walk(root, '');
  return h.digest('hex');
}

type Ev = { type: string; payload: Record<string, unknown> };
async function eventsOf(repo: string, home: string, runId?: string): Promise<Ev[]> {
  const r = await agentctl(repo, home, ['log', ...(runId ? ['--run', runId] : []), '--json']);
  return JSON.parse(r.stdout).events;
}
const said = (events: Ev[]) => events.filter((e) => e.type === 'agent.message').map((e) => String(e.payload.text));

describe.runIf(sandboxAvailable)('worktree bootstrap on a real Node project (OS sandbox)', () => {
  it('without shared or setup, the gate fails with MODULE_NOT_FOUND (the test is meaningful)', async () => {
    const { repo, home } = nodeProject('');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(6);
    const events = await eventsOf(repo, home, JSON.parse(r.stdout).run.runId);
    const gate = events.find((e) => e.type === 'gate.failed');
    expect(String(gate?.payload.output)).toContain('MODULE_NOT_FOUND');
  });

  it('shared: [node_modules]: the gate passes; the agent can neither change nor read secrets in the checkout\'s copy; nothing of it is committed', async () => {
    const { repo, home } = nodeProject('  shared: [node_modules]', ATTACK_SHARED);
    const before = treeHash(join(repo, 'node_modules'));
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run;
    const events = await eventsOf(repo, home, run.runId);
    expect(events.find((e) => e.type === 'gate.passed'), JSON.stringify(events.filter((e) => e.type.startsWith('gate')))).toBeDefined();
    for (const attack of ['append', 'append-direct', 'plant', 'remove', 'read-env']) expect(said(events), attack).toContain(`${attack} denied`);
    expect(JSON.stringify(events)).not.toContain('nm-s3cr3t');
    expect(treeHash(join(repo, 'node_modules'))).toBe(before);
    const boot = events.find((e) => e.type === 'worktree.bootstrapped')!;
    expect(boot.payload.linked).toEqual(['node_modules']);
    // The link is not the run's work and leaves the worktree with the run.
    expect((events.find((e) => e.type === 'sandbox.committed')!.payload.files as { path: string }[]).map((f) => f.path)).toEqual(['docs/x.md']);
    expect(git(repo, 'ls-tree', '-r', '--name-only', run.branch)).not.toContain('node_modules');
    expect(existsSync(join(run.worktree, 'node_modules'))).toBe(false);
  });

  it('shared under a .gitignore line without a slash (`node_modules`, which also ignores the link): the run still commits its work', async () => {
    const { repo, home } = nodeProject('  shared: [node_modules]');
    writeFileSync(join(repo, '.gitignore'), 'node_modules\n');
    git(repo, 'commit', '-qam', 'ignore node_modules as a name');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run;
    const events = await eventsOf(repo, home, run.runId);
    expect((events.find((e) => e.type === 'sandbox.committed')!.payload.files as { path: string }[]).map((f) => f.path)).toEqual(['docs/x.md']);
    expect(git(repo, 'ls-tree', '-r', '--name-only', run.branch)).not.toContain('node_modules');
  });

  it('setup: [npm ci --prefer-offline]: the gate passes offline; the checkout\'s node_modules is byte-identical; setup has no network unless worktree.network says so; copy brings gitignored files', async () => {
    // The run's own node_modules (setup's) is writable; what the agent writes there is gone before the gate.
    const agent = 'echo mine > node_modules/mine.txt && echo "own-copy writable"\ncat local/data.txt\n[ -L local/link ] && echo "link copied" || echo "link skipped"';
    const { repo, home } = nodeProject('  setup: [npm ci --prefer-offline]\n  copy: [local]', agent);
    // A gitignored folder copied into the worktree (its symlink is not copied).
    writeFileSync(join(repo, '.gitignore'), 'node_modules/\nlocal/\n');
    mkdirSync(join(repo, 'local'));
    writeFileSync(join(repo, 'local', 'data.txt'), 'local data\n');
    execFileSync('ln', ['-s', '/etc/hostname', join(repo, 'local', 'link')]);
    git(repo, 'commit', '-qam', 'ignore local/');
    const before = treeHash(join(repo, 'node_modules'));
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout).run;
    const events = await eventsOf(repo, home, run.runId);
    const types = events.map((e) => e.type);
    expect(types.indexOf('setup.finished')).toBeLessThan(types.indexOf('agent.launched'));
    expect(events.find((e) => e.type === 'setup.finished')!.payload.exitCode).toBe(0);
    expect(events.find((e) => e.type === 'gate.passed'), JSON.stringify(events.filter((e) => e.type.startsWith('gate')))).toBeDefined();
    expect(said(events)).toEqual(expect.arrayContaining(['own-copy writable', 'local data', 'link skipped']));
    expect(events.find((e) => e.type === 'worktree.bootstrapped')!.payload).toMatchObject({ copied: ['local'], skipped: ['local/link: not a regular file or folder'] });
    expect(treeHash(join(repo, 'node_modules'))).toBe(before);
    expect(existsSync(join(run.worktree, 'node_modules', 'mine.txt'))).toBe(false);
    expect(existsSync(join(run.worktree, 'node_modules', 'tinydep', 'index.js'))).toBe(true);
    const settings = JSON.parse(readFileSync(join(home, 'runs', run.runId, 'os-sandbox.setup.json'), 'utf8'));
    expect(settings.network.allowedDomains).toEqual([]);
  });

  it('worktree.network gives setup (only) its hosts', async () => {
    const { repo, home } = nodeProject('  setup: ["true"]\n  network: [registry.npmjs.org, "*.yarnpkg.com"]');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    const run = JSON.parse(r.stdout).run;
    const setup = JSON.parse(readFileSync(join(home, 'runs', run.runId, 'os-sandbox.setup.json'), 'utf8'));
    const gate = JSON.parse(readFileSync(join(home, 'runs', run.runId, 'os-sandbox.gate.json'), 'utf8'));
    expect(r.code, r.stderr).toBe(6);
    expect(setup.network.allowedDomains).toEqual(['registry.npmjs.org', '*.yarnpkg.com']);
    expect(gate.network.allowedDomains).toEqual([]);
  });

  it('setup (only) writes the project\'s package cache, so an install that must fetch can store what it fetched; the agent and teardown can neither read nor write it', async () => {
    const { repo, home } = nodeProject('  setup: [\'mkdir -p "$npm_config_cache" && echo cached > "$npm_config_cache/probe" && echo "cache=$npm_config_cache"\']\n  teardown: [\'cat ' + "'$HOME_CACHES'" + '/*/npm/probe; for f in ' + "'$HOME_CACHES'" + '/*/npm/probe; do echo x >> "$f"; done; true\']');
    const caches = join(home, 'caches');
    const attack = `for f in ${caches}/*/npm/probe; do cat "$f" 2>/dev/null && echo "read ALLOWED" || echo "read denied"; echo x >> "$f" 2>/dev/null && echo "write ALLOWED" || echo "write denied"; done\ntouch ${caches}/planted 2>/dev/null && echo "plant ALLOWED" || echo "plant denied"\n`;
    writeFileSync(join(repo, 'agent.sh'), `#!/bin/sh\nmkdir -p docs\necho hi > docs/x.md\n${attack}`);
    writeFileSync(join(repo, '.agentrc.yaml'), readFileSync(join(repo, '.agentrc.yaml'), 'utf8').replaceAll("'$HOME_CACHES'", caches));
    git(repo, 'commit', '-qam', 'cache probes');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(6); // nothing installed the dependency: the gate fails, the run awaits review
    const run = JSON.parse(r.stdout).run;
    const events = await eventsOf(repo, home, run.runId);
    expect(String(events.find((e) => e.type === 'setup.finished')!.payload.output)).toContain(`cache=${caches}/`);
    const [project] = readdirSync(caches);
    expect(readFileSync(join(caches, project!, 'npm', 'probe'), 'utf8')).toBe('cached\n');
    expect(said(events)).toEqual(expect.arrayContaining(['read denied', 'write denied', 'plant denied']));
    expect(JSON.stringify(said(events))).not.toContain('cached');
    const d = await agentctl(repo, home, ['review', 'discard', run.runId, '--reason', 'probe']);
    expect(d.code, d.stderr).toBe(0);
    const all = await eventsOf(repo, home, run.runId);
    expect(all.find((e) => e.type === 'teardown.finished')).toBeDefined();
    expect(String(all.find((e) => e.type === 'teardown.finished')!.payload.output)).not.toContain('cached');
    expect(readFileSync(join(caches, project!, 'npm', 'probe'), 'utf8')).toBe('cached\n');
    expect(existsSync(join(caches, 'planted'))).toBe(false);
  });

  it('a failing setup stops the run before the agent (exit 4, step setup), and setup cannot write the checkout', async () => {
    const { repo, home } = nodeProject('');
    writeFileSync(join(repo, '.agentrc.yaml'), `agents:\n  command:\n    bin: ./agent.sh\nworktree:\n  setup: ["echo fetching; touch ${repo}/pwned-by-setup; exit 3", "echo never"]\n`);
    git(repo, 'commit', '-qam', 'setup');
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    expect(r.code, r.stderr).toBe(4);
    const run = JSON.parse(r.stdout).run;
    expect(run.state).toBe('failed');
    const events = await eventsOf(repo, home, run.runId);
    const types = events.map((e) => e.type);
    expect(types).not.toContain('agent.launched');
    expect(types.filter((t) => t === 'setup.started')).toHaveLength(1);
    expect(events.find((e) => e.type === 'setup.finished')!.payload).toMatchObject({ exitCode: 3, output: expect.stringContaining('fetching') });
    const failed = events.find((e) => e.type === 'run.failed')!;
    expect(failed.payload.step).toBe('setup');
    expect(String(failed.payload.error)).toMatch(/setup command "echo fetching.*" exited 3; the agent was not started/);
    expect(existsSync(join(repo, 'pwned-by-setup'))).toBe(false);
  });

  it('two parallel runs get different blocks of ports', async () => {
    // The signal lies outside the run: the OS sandbox shows it only through sandbox.read (approved).
    const signals = tempDir();
    const go = join(signals, 'go');
    const wait = `i=0; while [ ! -f ${go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`;
    const { repo, home } = nodeProject(`  ports: 5\nsandbox:\n  read: [${signals}]`, `echo "port=$AGENTCTL_PORT count=$AGENTCTL_PORT_COUNT"\n${wait}`, {
      'tasks/one.md': taskFile({ agent: 'command', type: 'docs' }, 'one'),
      'tasks/two.md': taskFile({ agent: 'command', type: 'docs' }, 'two'),
    });
    const running = agentctl(repo, home, ['run', '--all', '--concurrency', '2', '--json']);
    // Both agents have said their port (so both runs hold their block at once: each waits for `go`).
    const portsSaid = async () => (existsSync(join(home, 'agentctl.db')) ? said(await eventsOf(repo, home)).filter((l) => l.startsWith('port=')) : []);
    for (let i = 0; i < 150 && (await portsSaid()).length < 2; i++) await new Promise((r) => setTimeout(r, 200));
    writeFileSync(go, '');
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    const ports = said(await eventsOf(repo, home)).filter((l) => l.startsWith('port='));
    expect(ports).toHaveLength(2);
    const [a, b] = ports.map((l) => Number(/port=(\d+) count=5/.exec(l)![1]));
    expect(Math.abs(a! - b!)).toBeGreaterThanOrEqual(5);
    expect(readdirSync(join(home, 'ports')).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('teardown runs in the OS sandbox when the run is discarded; a shared link never reaches the archive', async () => {
    // No gate: nothing but the end of the run removes the (not ignored: `node_modules/` matches folders only) link.
    const { repo, home } = nodeProject('', '', { 'tasks/t.md': taskFile({ agent: 'command', type: 'docs' }, 'write docs') });
    writeFileSync(join(repo, '.agentrc.yaml'), `agents:\n  command:\n    bin: ./agent.sh\nworktree:\n  shared: [node_modules]\n  teardown: ["echo bye $AGENTCTL_RUN_ID; touch ${repo}/pwned-by-teardown; echo t > teardown-was-here"]\n`);
    git(repo, 'commit', '-qam', 'teardown');
    approveRepo(repo, home); // its worktree.shared
    const r = await agentctl(repo, home, ['run', 't', '--json']);
    const run = JSON.parse(r.stdout).run;
    expect((await eventsOf(repo, home, run.runId)).map((e) => e.type)).not.toContain('teardown.started');
    expect(existsSync(join(run.worktree, 'node_modules'))).toBe(false);
    const d = await agentctl(repo, home, ['review', 'discard', run.runId, '--reason', 'test']);
    expect(d.code, d.stderr).toBe(0);
    const events = await eventsOf(repo, home, run.runId);
    const types = events.map((e) => e.type);
    expect(types.indexOf('teardown.finished')).toBeLessThan(types.indexOf('sandbox.removed'));
    expect(events.find((e) => e.type === 'teardown.finished')!.payload).toMatchObject({ exitCode: 0, output: expect.stringContaining(`bye ${run.runId}`) });
    expect(existsSync(join(repo, 'pwned-by-teardown'))).toBe(false);
    expect(existsSync(run.worktree)).toBe(false);
    expect(git(repo, 'ls-tree', '-r', '--name-only', `refs/agentctl/archive/${run.runId}`).split('\n')).toEqual(['.agentrc.yaml', '.gitignore', 'README.md', 'agent.sh', 'docs/x.md', 'package-lock.json', 'package.json', 'tasks/t.md', 'test.js', 'vendor/tinydep-1.0.0.tgz']);
  });
});

describe('worktree bootstrap refusals (before any worktree)', () => {
  const refused = async (repo: string, home: string, ...parts: RegExp[]) => {
    approveRepo(repo, home); // copy and network need approval first; then the entries are checked
    const r = await agentctl(repo, home, ['run', 't']);
    expect(r.code, r.stderr).toBe(2);
    for (const p of parts) expect(r.stderr).toMatch(p);
    expect(existsSync(join(home, 'worktrees'))).toBe(false);
    expect(await eventsOf(repo, home)).toEqual([]);
  };

  it('a denied path in worktree.shared', async () => {
    const { repo, home } = makeRepo({ '.agentrc.yaml': 'worktree:\n  shared: [.env]\n', '.gitignore': '.env\n', 'tasks/t.md': taskFile({ agent: 'command' }, 'x') });
    writeFileSync(join(repo, '.env'), 'S=1\n');
    await refused(repo, home, /\.agentrc\.yaml: field "worktree\.shared": "\.env" is denied by "\.env"/, /never shared/);
  });

  it('a folder holding a denied path in worktree.copy, and the task\'s own block names the task file', async () => {
    const { repo, home } = makeRepo({
      '.gitignore': 'config/\n',
      'tasks/t.md': '---\nagent: command\nworktree:\n  copy: [config]\n---\nx\n',
    });
    mkdirSync(join(repo, 'config'));
    writeFileSync(join(repo, 'config', 'settings.json'), '{}');
    writeFileSync(join(repo, 'config', '.env.local'), 'S=1\n');
    await refused(repo, home, /tasks\/t\.md: field "worktree\.copy": "config" holds config\/\.env\.local, denied by "\.env\.\*"/);
  });

  it('a tracked path, a path outside the checkout, a copy that is not gitignored', async () => {
    const tracked = makeRepo({ '.agentrc.yaml': 'worktree:\n  shared: [src]\n', 'src/a.js': '1', 'tasks/t.md': taskFile({ agent: 'command' }, 'x') });
    await refused(tracked.repo, tracked.home, /"src" is tracked by git/);
    const outside = makeRepo({ '.agentrc.yaml': 'worktree:\n  shared: [cache]\n', '.gitignore': 'cache\n', 'tasks/t.md': taskFile({ agent: 'command' }, 'x') });
    execFileSync('ln', ['-s', '/etc', join(outside.repo, 'cache')]);
    await refused(outside.repo, outside.home, /"cache" resolves to \/etc, outside the checkout/);
    const unignored = makeRepo({ '.agentrc.yaml': 'worktree:\n  copy: [notes.txt]\n', 'tasks/t.md': taskFile({ agent: 'command' }, 'x') });
    writeFileSync(join(unignored.repo, 'notes.txt'), 'n');
    await refused(unignored.repo, unignored.home, /"notes\.txt" is not gitignored/);
  });
});
