import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.js';
import { ROOT } from '../helpers.js';
import { parseConfig } from '../../src/definition/config.js';
import { TASK_ID_PATTERN, parseTaskFile, type TaskDefaults } from '../../src/definition/task.js';

const defaults: TaskDefaults = { agent: 'claude', profiles: ['implement'], gate: undefined, timeoutMs: 1_800_000 };

function expectInputError(fn: () => unknown, ...parts: (string | RegExp)[]): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    for (const p of parts) expect((error as Error).message).toMatch(p);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

describe('parseTaskFile', () => {
  it('parses every field and keeps the body as the prompt', () => {
    const t = parseTaskFile(
      'tasks/x.md',
      '---\nid: fix-docs\ntitle: Fix docs\nautonomy: auto\nagent: gemini\nprofile: [implement, careful]\ntype: docs\npriority: 3\ntags: [a, b]\npaths: [docs/**]\ngate: npm test\ntimeout: 90s\n---\nDo it.\n',
      defaults,
    );
    expect(t).toMatchObject({ id: 'fix-docs', title: 'Fix docs', autonomy: 'auto', agent: 'gemini', profiles: ['implement', 'careful'], type: 'docs', priority: 3, tags: ['a', 'b'], paths: ['docs/**'], gate: 'npm test', timeoutMs: 90_000, prompt: 'Do it.' });
  });

  it('applies defaults: id from the file name, review, general, config agent/profile', () => {
    const t = parseTaskFile('tasks/add-flag.md', '---\n---\n# Add a flag\nbody', defaults);
    expect(t).toMatchObject({ id: 'add-flag', autonomy: 'review', type: 'general', agent: 'claude', profiles: ['implement'], title: 'Add a flag', timeoutMs: 1_800_000 });
  });

  it('names file, line and field for an unknown field', () => {
    const e = expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: x\nautonomy: review\nowner: me\n---\nbody', defaults), 'tasks/a.md:4', '"owner"');
    expect(e.field).toBe('owner');
  });

  it('refuses an unknown autonomy level with its line', () => {
    const e = expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: x\nautonomy: yolo\n---\nbody', defaults), 'tasks/a.md:3', 'autonomy');
    expect(e.field).toBe('autonomy');
  });

  it('refuses bad YAML with the line', () => {
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: [unclosed\n---\nbody', defaults), 'tasks/a.md', 'invalid YAML');
  });

  it('names the line of a duplicate key (the file line, front matter offset included)', () => {
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: a\ntype: docs\ntitle: b\n---\nbody', defaults), 'tasks/a.md:4:', 'unique');
  });

  it.each(['../x', '/abs', '-lead', 'UPPER', 'has space', 'a'.repeat(65), 'ünï'])('refuses the id %j', (id) => {
    expectInputError(() => parseTaskFile('tasks/ok.md', `---\nid: ${JSON.stringify(id)}\n---\nbody`, defaults), 'id');
  });

  it('refuses a file name that is not an id when no id is set', () => {
    expectInputError(() => parseTaskFile('tasks/Bad Name.md', '---\n---\nbody', defaults), '"id"');
  });

  it('refuses custom tags, NUL bytes, missing front matter and an empty body', () => {
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: !custom x\n---\nbody', defaults), 'custom YAML tags');
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: x\n---\nbo\0dy', defaults), 'NUL');
    expectInputError(() => parseTaskFile('tasks/a.md', 'no front matter', defaults), '---');
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntitle: x\n---\n  \n', defaults), 'no prompt');
  });

  it('refuses a YAML alias bomb', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
    expectInputError(() => parseTaskFile('tasks/a.md', `---\n${bomb}\n---\nbody`, defaults), 'tasks/a.md');
  });

  it('refuses paths that leave the repository and bad timeouts', () => {
    expectInputError(() => parseTaskFile('tasks/a.md', '---\npaths: [../etc]\n---\nbody', defaults), 'paths');
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntimeout: soon\n---\nbody', defaults), 'timeout');
  });

  it('any text as a task file either parses or is refused with an InputError, never a crash (property)', () => {
    const fragment = fc.constantFrom('---\n', 'id: x\n', 'autonomy: auto\n', 'tags: [a, b]\n', ': bad\n', '&a [1]\n', '*a\n', '!tag x\n', 'paths: [../x]\n', 'timeout: 5m\n', 'body text\n', '\u0000', '"', '- x\n');
    fc.assert(
      fc.property(fc.array(fc.oneof(fragment, fc.string({ maxLength: 20 })), { maxLength: 12 }), (parts) => {
        try {
          const t = parseTaskFile('tasks/p.md', parts.join(''), defaults);
          expect(TASK_ID_PATTERN.test(t.id)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts exactly the ids matching the documented pattern (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (id) => {
        const text = `---\nid: ${JSON.stringify(id)}\n---\nbody`;
        let accepted: boolean;
        try {
          accepted = parseTaskFile('tasks/t.md', text, defaults).id === id;
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
          accepted = false;
        }
        expect(accepted).toBe(TASK_ID_PATTERN.test(id));
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseConfig', () => {
  it('uses defaults without a file and the folder name as project', () => {
    const c = parseConfig('/r', undefined, 'My Repo');
    expect(c).toMatchObject({ project: 'my-repo', tasksDir: 'tasks', trust: { initial: 'review', window: { runs: 20 } }, taskDefaults: { agent: 'claude', profiles: ['implement'] } });
    expect(c.agents.claude.bin).toBe('claude');
  });

  it('resolves relative agent binaries from the repository root', () => {
    const c = parseConfig('/r', 'agents:\n  command:\n    bin: ./scripts/agent.sh\n    args: [--fast]\n', 'r');
    expect(c.agents.command).toMatchObject({ bin: '/r/scripts/agent.sh', args: ['--fast'] });
  });

  it('accepts .agentrc.example.yaml as documented', () => {
    const c = parseConfig('/r', readFileSync(join(ROOT, '.agentrc.example.yaml'), 'utf8'), 'r');
    expect(c).toMatchObject({ project: 'my-app', baseBranch: 'main', trust: { initial: 'review', promotion: { reviewToAuto: { consecutiveMerged: 10 } } } });
    expect(c.sensitivePaths).toContain('**/migrations/**');
  });

  it('names .agentrc.yaml, line and field for unknown keys and bad values', () => {
    expectInputError(() => parseConfig('/r', 'agents:\n  claude:\n    binary: x\n', 'r'), '.agentrc.yaml:3', 'agents.claude.binary');
    expectInputError(() => parseConfig('/r', 'trust:\n  initial: auto\n', 'r'), '.agentrc.yaml:2', 'trust.initial');
  });
});

describe('timeouts', () => {
  it('are at most 24 days (a longer one fired at once in Node\'s timers), in a task and in defaults; the default is 30 minutes', () => {
    expect(parseTaskFile('tasks/a.md', '---\ntimeout: 24d\n---\nx', defaults).timeoutMs).toBe(24 * 86_400_000);
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntimeout: 30d\n---\nx', defaults), 'tasks/a.md', 'too long: "30d" (at most 24 days)');
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntimeout: 2600000\n---\nx', defaults), 'tasks/a.md', 'too long');
    expect(() => parseConfig('/r', 'defaults:\n  timeout: 30d\n', 'r')).toThrow(/too long: "30d"/);
    expect(parseConfig('/r', 'defaults:\n  timeout: 90s\n', 'r').taskDefaults.timeoutMs).toBe(90_000);
    expect(parseConfig('/r', undefined, 'r').taskDefaults.timeoutMs).toBe(1_800_000);
    expect(parseConfig('/r', 'defaults:\n  agent: command\n', 'r').taskDefaults.timeoutMs).toBe(1_800_000);
    // Rounded to 0 ms it meant no timeout at all.
    expectInputError(() => parseTaskFile('tasks/a.md', '---\ntimeout: 0.0004\n---\nx', defaults), 'not a duration of at least a second');
  });

  it('a quoted number is seconds too ("90" was refused, and "1500" meant 1.5 s while 1500 meant 25 minutes)', () => {
    expect(parseTaskFile('tasks/a.md', '---\ntimeout: "90"\n---\nx', defaults).timeoutMs).toBe(90_000);
    expect(parseTaskFile('tasks/a.md', '---\ntimeout: "1500"\n---\nx', defaults).timeoutMs).toBe(parseTaskFile('tasks/a.md', '---\ntimeout: 1500\n---\nx', defaults).timeoutMs);
    expect(parseTaskFile('tasks/a.md', '---\ntimeout: "90s"\n---\nx', defaults).timeoutMs).toBe(90_000);
  });
});

it('baseBranch is a branch name git accepts: a newline, a space, a leading dash or `..` is refused', () => {
  expect(parseConfig('/r', 'baseBranch: release/1.2\n', 'r').baseBranch).toBe('release/1.2');
  for (const bad of ['"main\\nFAKE LINE"', '"a b"', '"-x"', '"a..b"']) expect(() => parseConfig('/r', `baseBranch: ${bad}\n`, 'r')).toThrow(/baseBranch.*not a branch name git accepts/s);
});

it('the tasks and profiles folders are printed in messages: a control character in their names is refused', () => {
  expect(() => parseConfig('/r', 'tasks:\n  dir: "work\\nFAKE LINE"\n', 'r')).toThrow(/tasks\.dir.*control characters/s);
  expect(() => parseConfig('/r', 'profiles:\n  dir: "p\\u001b[2J"\n', 'r')).toThrow(/profiles\.dir.*control characters/s);
  expect(parseConfig('/r', 'tasks:\n  dir: work/tasks\n', 'r').tasksDir).toBe('work/tasks');
});
