/**
 * Definitions a cloned repository controls cost bounded work: every command reads every task file and
 * profile, and YAML is the cost. An attack session made every command of a clone take one to two
 * minutes with 200 task files of 60,000-item `tags` lists (a 2 KiB git pack). Front matter above 8 KiB
 * (1 MiB for all task files together), a profile above 16 KiB and a profiles folder of more than 32
 * files are refused, named, unread.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_FRONT_MATTER_TOTAL_BYTES, MAX_PROFILE_FILE_BYTES, MAX_PROJECT_PROFILES } from '../../src/definition/load.js';
import { MAX_FRONT_MATTER_BYTES } from '../../src/definition/task.js';
import { agentctl, cleanup, git, makeRepo } from '../helpers.js';

afterEach(cleanup);

const tasksOf = async (repo: string, home: string) => {
  const r = await agentctl(repo, home, ['tasks', '--json']);
  return { code: r.code, ...(JSON.parse(r.stdout) as { tasks: { id: string }[]; errors: { file: string | null; message: string }[] }) };
};

describe('definition inputs of bounded cost', () => {
  it('a task file whose front matter is above 8 KiB (a 60,000-item tags list) is refused by name; the other tasks are listed', async () => {
    expect(MAX_FRONT_MATTER_BYTES).toBe(8 * 1024);
    const tags = Array.from({ length: 60_000 }, (_, i) => `t${i}`).join(', ');
    const { repo, home } = makeRepo({ 'tasks/ok.md': '---\ntype: docs\n---\nDo it.\n', 'tasks/big.md': `---\ntype: docs\ntags: [${tags}]\n---\nDo it.\n` });
    const listed = await tasksOf(repo, home);
    expect(listed.code).toBe(2);
    expect(listed.tasks.map((t) => t.id)).toEqual(['ok']);
    expect(listed.errors).toEqual([{ file: 'tasks/big.md', field: null, message: expect.stringMatching(/^tasks\/big\.md: front matter larger than 8192 bytes/) }]);
    // The prompt below the front matter may be long.
    writeFileSync(join(repo, 'tasks', 'big.md'), `---\ntype: docs\n---\n${'Do it. '.repeat(20_000)}\n`);
    expect((await tasksOf(repo, home)).tasks.map((t) => t.id).sort()).toEqual(['big', 'ok']);
  });

  it('task files past 1 MiB of front matter in all are refused by name, unread (2,000 files of 8 KiB would add ~50 s to every command)', async () => {
    expect(MAX_FRONT_MATTER_TOTAL_BYTES).toBe(1024 * 1024);
    const front = `type: docs\ntags: [${Array.from({ length: 1000 }, (_, i) => `t${i}`).join(', ')}]\n`;
    expect(front.length).toBeLessThan(8 * 1024);
    const files: Record<string, string> = {};
    // 200 files of ~6.9 KiB: the first ~150 fit in 1 MiB.
    for (let i = 0; i < 200; i++) files[`tasks/t${String(i).padStart(3, '0')}.md`] = `---\n${front}---\nDo it.\n`;
    const { repo, home } = makeRepo(files);
    const listed = await tasksOf(repo, home);
    const fit = Math.floor((1024 * 1024) / front.length); // each file's front matter is `front`, counted as the per-file cap counts it
    expect(listed.tasks).toHaveLength(fit);
    expect(listed.errors).toHaveLength(200 - fit);
    expect(listed.errors[0]!.message).toBe(`tasks/t${String(fit).padStart(3, '0')}.md: not read: the task files' front matter is above 1048576 bytes in all`);
  });

  it('a profile above 16 KiB, and a profiles folder of more than 32 files, are refused by name for the tasks that use them', async () => {
    expect([MAX_PROFILE_FILE_BYTES, MAX_PROJECT_PROFILES]).toEqual([16 * 1024, 32]);
    const big = `description: big\nextends: implement\ncommands:\n  allow:\n${Array.from({ length: 1500 }, (_, i) => `    - "tool${i} --flag"`).join('\n')}\n`;
    expect(big.length).toBeGreaterThan(16 * 1024);
    const { repo, home } = makeRepo({
      'tasks/a.md': '---\ntype: docs\nprofile: big\n---\nDo it.\n',
      'tasks/b.md': '---\ntype: docs\nprofile: p1\n---\nDo it.\n',
      'tasks/c.md': '---\ntype: docs\n---\nDo it.\n',
      '.agentctl/profiles/big.yaml': big,
      '.agentctl/profiles/p1.yaml': 'description: p1\nextends: implement\n',
    });
    let listed = await tasksOf(repo, home);
    expect(listed.tasks.map((t) => t.id).sort()).toEqual(['b', 'c']);
    expect(listed.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^\.agentctl\/profiles\/big\.yaml: larger than 16384 bytes/)]);

    mkdirSync(join(repo, '.agentctl', 'profiles'), { recursive: true });
    for (let i = 2; i <= 32; i++) writeFileSync(join(repo, '.agentctl', 'profiles', `p${i}.yaml`), `description: p${i}\nextends: implement\n`);
    writeFileSync(join(repo, '.agentctl', 'profiles', 'big.yaml'), 'description: small now\nextends: implement\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', '33 profiles');
    listed = await tasksOf(repo, home);
    expect(listed.tasks.map((t) => t.id)).toEqual(['c']);
    expect(new Set(listed.errors.map((e) => e.message))).toEqual(new Set([`.agentctl/profiles: 33 profile files, more than the 32 a project may have; none was read`]));
  });
});
