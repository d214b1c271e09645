/**
 * Installable as users install CLIs: a copy of this checkout without `dist/` (a clean clone) is packed
 * with `npm pack` (its `prepack` builds), and the tarball is installed into a temp prefix the way
 * `npm install -g` lays it out: `<prefix>/lib/node_modules/agentctl` plus the `<prefix>/bin/agentctl` link.
 * The installed agentctl then runs a task with the `command` agent in the OS sandbox, and its policy names
 * a command guard that exists inside the prefix.
 *
 * Why not `npm install -g <tarball>` itself: offline (tests use no network), npm resolves a local
 * tarball's dependency ranges against registry metadata, which `npm ci` never caches (ENOTCACHED). The
 * tarball ships `npm-shrinkwrap.json` (the tested dependency tree; honoured by `npm install -g agentctl`
 * from a registry), so the install here is `npm ci --omit=dev --offline` from that shrinkwrap, inside the
 * package folder, with every tarball from the npm cache `npm ci` filled. Slow: better-sqlite3 compiles.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanup, git, makeRepo, taskFile, tempDir } from '../helpers.js';

afterAll(cleanup);

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const sandboxAvailable = process.platform === 'linux' && ['bwrap', 'socat', 'rg'].every(has);
const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
/** npm's own variables (set when the tests run under `npm test`) would steer the inner npm commands. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/**
 * Run a program to completion (asynchronously: a long synchronous child would starve vitest's worker).
 * @returns stdout and stderr; throws with both when the exit code is not 0
 */
async function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = ENV, timeoutMs = 120_000): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await promisify(execFile)(file, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { ...r, code: 0 };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(error), code: typeof e.code === 'number' ? e.code : -1 };
  }
}

/** {@link sh}, failing the test with the output when the exit code is not 0. */
async function must(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = ENV, timeoutMs = 120_000): Promise<string> {
  const r = await sh(file, args, cwd, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A copy of the checkout's files (tracked and new, ignored ones left out: no dist/, no node_modules/). */
function cleanCopy(): string {
  const copy = join(tempDir('agentctl-pack-'), 'agentctl');
  const files = git(ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard').split('\0').filter((f) => f && existsSync(join(ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(copy, f));
    chmodSync(join(copy, f), lstatSync(join(ROOT, f)).mode & 0o777);
  }
  // The build tools (typescript) as `npm ci` would have installed them.
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

describe('installable as users install CLIs', () => {
  it('npm pack builds what it ships; installed into a prefix, agentctl runs a task and finds its command guard', async () => {
    const copy = cleanCopy();
    expect(existsSync(join(copy, 'dist'))).toBe(false);
    const out = tempDir('agentctl-tgz-');
    await must('npm', ['pack', '--pack-destination', out], copy, ENV, 5 * 60_000);
    const tarball = join(out, `agentctl-${VERSION}.tgz`);
    const listed = (await must('tar', ['tzf', tarball], out)).split('\n');
    for (const f of ['bin/agentctl', 'dist/cli/main.js', 'dist/hooks/command-guard.js', 'dist/exec/srtMain.js', 'dist/demo/scripted-claude.js', 'profiles/implement.yaml', '.agentrc.example.yaml', 'npm-shrinkwrap.json', 'package.json']) {
      expect(listed, f).toContain(`package/${f}`);
    }
    expect(listed.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/'))).toEqual([]);
    expect(existsSync(join(copy, 'npm-shrinkwrap.json'))).toBe(false); // postpack: the repository keeps one lockfile

    // The global layout npm makes: <prefix>/lib/node_modules/<name>, and <prefix>/bin/<bin> linking into it.
    const prefix = join(tempDir('agentctl-prefix-'), 'prefix');
    const pkg = join(prefix, 'lib', 'node_modules', 'agentctl');
    mkdirSync(pkg, { recursive: true });
    await must('tar', ['xzf', tarball, '-C', pkg, '--strip-components=1'], out);
    // build_from_source: better-sqlite3's install would otherwise first try to download a prebuilt binary.
    await must('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], pkg, { ...ENV, npm_config_build_from_source: 'true' }, 14 * 60_000);
    mkdirSync(join(prefix, 'bin'));
    symlinkSync('../lib/node_modules/agentctl/bin/agentctl', join(prefix, 'bin', 'agentctl'));
    const installed = join(prefix, 'bin', 'agentctl');
    const env = { PATH: `${join(prefix, 'bin')}:${ENV.PATH}`, HOME: ENV.HOME ?? '', NO_COLOR: '1', CI: '1' };
    const run = (cwd: string, home: string, args: string[]) => sh(installed, args, cwd, { ...env, AGENTCTL_HOME: home });

    expect((await run(out, join(out, 'home'), ['--version'])).stdout.trim()).toBe(VERSION);

    const { repo, home } = makeRepo({
      '.agentrc.yaml': 'agents:\n  command:\n    bin: ./agent.sh\n',
      'agent.sh': '#!/bin/sh\nmkdir -p docs && echo "# Hello" > docs/hello.md\necho done\n',
      'tasks/hello.md': taskFile({ agent: 'command', type: 'docs', gate: 'test -f docs/hello.md' }, 'Write docs/hello.md'),
    });
    chmodSync(join(repo, 'agent.sh'), 0o755);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'agent');

    // Claude Code's settings run the command guard as a hook: its script must be the installed one.
    const policy = await run(repo, home, ['policy', 'show', 'hello', '--tool', 'claude', '--json']);
    expect(policy.code, policy.stderr).toBe(0);
    const guard = /[^\s'"]*\/dist\/hooks\/command-guard\.js/.exec(JSON.stringify(JSON.parse(policy.stdout).rendered.claude))?.[0];
    expect(guard).toBe(join(realpathSync(pkg), 'dist', 'hooks', 'command-guard.js'));
    expect(existsSync(guard!)).toBe(true);

    if (!sandboxAvailable) return; // the rest runs in the OS sandbox (see test/e2e/containment.test.ts)
    const result = await run(repo, home, ['run', 'hello', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const r = JSON.parse(result.stdout).run;
    expect(r).toMatchObject({ state: 'awaiting_review', gate: { passed: true } });
    expect(readFileSync(join(r.worktree, 'docs', 'hello.md'), 'utf8')).toBe('# Hello\n');
    // The installed srt confines for real.
    const doctor = await run(repo, home, ['doctor', '--json']);
    expect(JSON.parse(doctor.stdout).checks.sandboxSelfTest.status, doctor.stdout).toBe('ok');
  }, 15 * 60_000);
});
