/**
 * The command table: commander declarations only. Each action lazily imports `commands/<verb>.js`,
 * which loads, calls the core and prints. Actions return an exit code through `setExit`.
 *
 * Adding a command is one block: `program.command('verb')…options….action(act(() => import('../commands/verb.js')))`
 * (`act(load, 'name')` for a named export). Import nothing else into this file: what it imports loads on
 * every start (`--version`, `--help`, every command); the build bundles each command's module, with what
 * only it uses, into a chunk that its action loads (test/e2e/start.test.ts checks what loads when).
 */
import { Argument, Command, Option } from 'commander';
import { packageVersion } from '../core/paths.js';
import { COMPLETION_SHELLS } from './completion.js';

/** What a `<run>` argument takes (context.ts findRun). */
const RUN_ARG = 'run id: the whole id, a unique prefix, or the short id shown in progress lines and `log` (4+ characters)';

/**
 * A count flag's value (`--limit`, `--concurrency`) as a number: digits only, else NaN, which the command
 * refuses naming the flag (`Number.parseInt` read `5abc` as 5 and `1.5` as 1).
 */
const wholeNumber = (v: string): number => (/^[0-9]+$/.test(v) ? Number(v) : Number.NaN);

/** A help-text "Examples" block: each line indented, ending with a newline (commander prints it as is). */
function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** Build the program. `setExit` receives the exit code an action decided. */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('agentctl')
    .description('Run coding agents in disposable git worktrees under generated permission policies; trust is earned from an append-only event log.')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  agentctl init                        a commented .agentrc.yaml and tasks/example.md for this repository
  agentctl doctor                      can runs start here? agents, OS sandbox, git, event log
  agentctl tasks                       tasks with requested and effective autonomy
  agentctl run fix-readme              run a task in a fresh worktree sandbox
  agentctl review                      runs awaiting your decision
  agentctl review show k2dnf8          diff, gate result and the agent's summary
  agentctl review merge k2dnf8 --note "looks good"
  agentctl promote --json              evidence per agent × project × task type

Environment:
  AGENTCTL_HOME   where the event log and worktrees live (default: $XDG_DATA_HOME/agentctl)
  AGENTCTL_STORE  sqlite (default) or postgres://… : a team's shared event log (overrides store: in .agentrc.yaml)
  AGENTCTL_LOG_KEY_FILE  the team's log key of a shared log (default: $AGENTCTL_HOME/keys/team.key)
  NO_COLOR        disable colors

Exit codes: 0 ok · 1 internal error · 2 bad input · 3 config/environment · 4 agent failed
            5 refused by state (dirty checkout, conflict) · 6 gate failed
            7 event log failed verification · 130 interrupted
`,
    );

  /** The action for a command module's export (`default` unless named), returning its exit code. */
  const act =
    <A extends unknown[]>(load: () => Promise<Record<string, unknown>>, name = 'default') =>
    async (...args: A) => {
      // In the CommonJS build, a command module that needs ink throws AGENTCTL_NEEDS_ESM here, while it
      // loads: bin/agentctl then runs the command with the ES module build. Once the command has begun,
      // running it again could do its work twice: the same error is then a bug, not a retry.
      const command = (await load())[name] as (...a: A) => Promise<number>;
      try {
        setExit(await command(...args));
      } catch (error) {
        if ((error as { code?: unknown } | null)?.code !== 'AGENTCTL_NEEDS_ESM') throw error;
        throw new Error(`a module loaded after the command began needs the ES module build: ${(error as Error).message}`, { cause: error });
      }
    };

  // Options after a subcommand belong to it (`review show <run> --json`), not to `review`.
  program.enablePositionalOptions();

  program
    .command('init')
    .description('start here: write a commented .agentrc.yaml (agent CLIs found, worktree setup from the lockfile) and tasks/example.md')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('agentctl init', 'agentctl init && agentctl doctor && agentctl run example'))
    .action(act(() => import('../commands/init.js')));

  program
    .command('doctor')
    .description('can runs start here? agent CLIs (version, API key), the OS sandbox (live self-test), git, the event log')
    .option('--json', 'print JSON (every check, with how to fix it)')
    .addHelpText('after', examples('agentctl doctor', `agentctl doctor --json | jq '.checks | map(select(.status != "ok"))'`))
    .action(act(() => import('../commands/doctor.js')));

  program
    .command('approve [code]')
    .description("let this repository's settings that reach outside the OS sandbox apply on this machine (sandbox.bin and read, notify, agents' env and args, profile env and sandbox: none, worktree copy, shared and network, tasks that turn the network on, a project name another clone used first): the ones whose approval code a refusal printed, or, on a terminal, the ones it shows you and you confirm")
    .option('--json', 'print JSON (the settings approved)')
    .addHelpText('after', examples('agentctl approve                    # on a terminal: shows them and asks', 'agentctl approve 3f9c0a7d1e2b4c5a   # the code a refusal or doctor printed', 'agentctl doctor                     # lists the settings that need approval'))
    .action(act(() => import('../commands/approve.js')));

  program
    .command('tasks')
    .description('list the project\'s tasks with requested and effective autonomy')
    .option('--json', 'print JSON')
    .addHelpText('after', examples(`agentctl tasks --json | jq '.tasks[] | select(.effective == "auto")'`))
    .action(act(() => import('../commands/tasks.js')));

  program
    .command('run')
    .description('run a task (or many): worktree sandbox → policy → agent → gate → merge or await review')
    .argument('[task]', 'task id')
    .option('--claim', 'drive the agent yourself, interactively, in the sandbox (needed for hold tasks)')
    .option('--all', 'run every task')
    .option('--tag <tag>', 'run the tasks with this tag')
    .option('--type <type>', 'run the tasks of this type')
    .option('--concurrency <n>', 'runs at once with --all/--tag/--type (default 2)', wholeNumber)
    .option('--queue', 'queue the run(s) for the team\'s workers instead of running here (PostgreSQL store)')
    .option('--json', 'print the finished run(s) as JSON (progress goes to stderr)')
    .addHelpText('after', examples('agentctl run fix-readme', 'agentctl run risky-migration --claim', 'agentctl run --tag docs --concurrency 4', 'agentctl run --all --queue'))
    .action(act(() => import('../commands/run.js')));

  program
    .command('worker')
    .description('claim this project\'s queued runs and run them here: fetch the base from the remote, run, push the run branch')
    .option('--concurrency <n>', 'runs at once (default 1)', wholeNumber)
    .option('--drain', 'exit once nothing waits or runs in the queue')
    .option('--json', 'print the jobs worked as JSON when done (progress goes to stderr)')
    .addHelpText('after', examples('agentctl worker --concurrency 2', 'agentctl worker --drain'))
    .action(act(() => import('../commands/worker.js')));

  program
    .command('queue')
    .description('what waits in the run queue and which worker runs what')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/queue.js')));

  program
    .command('runs')
    .description('list runs of this project, newest first')
    .option('--json', 'print JSON')
    .addOption(new Option('--state <state>', 'only runs in this state').choices(['planned', 'running', 'awaiting_review', 'merged', 'discarded', 'failed', 'interrupted']))
    .option('--archived', 'only discarded runs whose work is kept under refs/agentctl/archive/')
    .option('--limit <n>', 'at most n runs, newest first (default 50)', wholeNumber)
    .option('--all', 'every run (no limit)')
    .action(act(() => import('../commands/runs.js')));

  program
    .command('restore')
    .description('recreate a discarded run\'s worktree from its archive (or a lost worktree from its branch); it awaits review again')
    .argument('<run>', RUN_ARG)
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/restore.js')));

  program
    .command('gc')
    .description('repair drift between the event log, git worktrees and the worktrees folder, without losing data')
    .option('--dry-run', 'show what would be done')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/gc.js')));

  program
    .command('log')
    .description('show the event log of this project (or one run)')
    .option('--run <id>', `only this run; ${RUN_ARG}`)
    .option('--limit <n>', 'only the last n events', wholeNumber)
    .option('--json', 'print JSON: {"events": [...]}')
    .action(act(() => import('../commands/log.js')));

  const review = program
    .command('review')
    .description('runs awaiting review; show, merge or discard one')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/review-list.js')));
  review
    .command('show')
    .description('what a run did: diff stat, diff, gate result, the agent\'s final summary (a run made in another clone: its branch is fetched from origin)')
    .argument('<run>', RUN_ARG)
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/review-show.js')));
  review
    .command('ask')
    .description('ask a second agent (read-only, research profile) for an independent verdict on a run')
    .argument('<run>', RUN_ARG)
    .requiredOption('--agent <agent>', 'reviewer agent (claude, gemini, codex, command)')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/review-ask.js')));
  review
    .command('merge')
    .description('merge a run into its base branch (your checkout must be clean); a run made in another clone is merged onto origin\'s base and pushed')
    .argument('<run>', RUN_ARG)
    .option('--note <text>', 'review note, kept as evidence')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/review-merge.js')));
  review
    .command('discard')
    .description('discard a run; its work is kept under refs/agentctl/archive/<run> (a run made in another clone: its branch is deleted on origin)')
    .argument('<run>', RUN_ARG)
    .option('--reason <text>', 'why, kept as evidence')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/review-discard.js')));
  review
    .command('request-changes')
    .description('send a run awaiting review back to the same agent in the same worktree, with your notes and the current diff; it becomes the next attempt and awaits review again')
    .argument('<run>', RUN_ARG)
    .option('--note <text>', 'what to change (kept in the log with the attempt)')
    .option('--file <path>', 'read the notes from a file (after --note when both are given)')
    .option('--json', 'print the run after the attempt as JSON (progress goes to stderr)')
    .addHelpText('after', examples('agentctl review request-changes k2dnf8 --note "handle an empty name too"', 'agentctl review request-changes k2dnf8 --file review.md', 'agentctl review request-changes k2dnf8 --note "see the file" --file review.md --json'))
    .action(act(() => import('../commands/review-request-changes.js')));

  program
    .command('promote')
    .description('show evidence per agent × task type, or record a promotion you approve')
    .argument('[agent]', 'agent to promote (claude, gemini, codex, command)')
    .option('--type <type>', 'task type the promotion applies to')
    .addOption(new Option('--to <level>', 'new level').choices(['review', 'auto']))
    .option('--note <text>', 'why, kept with the evidence snapshot')
    .option('--force', 'record the promotion although the evidence does not meet the rules')
    .option('--html <file>', 'write a self-contained HTML evidence report')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('agentctl promote', 'agentctl promote --html trust.html', 'agentctl promote command --type docs --to auto --note "10 clean merges"'))
    .action(act(() => import('../commands/promote.js')));

  program
    .command('demote')
    .description('lower an agent\'s earned level for a task type (history is kept)')
    .argument('<agent>', 'agent (claude, gemini, codex, command)')
    .requiredOption('--type <type>', 'task type')
    .addOption(new Option('--to <level>', 'new level (default: one step down)').choices(['hold', 'review']))
    .requiredOption('--reason <text>', 'why, kept with the evidence snapshot')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/demote.js')));

  const trust = program.command('trust').description('trust profiles: history of level changes, rebuild from the log');
  trust
    .command('history')
    .description('when and why each agent × task type changed level, with the evidence of each decision')
    .option('--agent <agent>', 'only this agent')
    .option('--type <type>', 'only this task type')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/trust.js'), 'history'));
  trust
    .command('rebuild')
    .description('recompute every projection (trust, runs, follow-ups, breakers) from zero and check the incremental ones agree')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/trust.js'), 'rebuild'));
  program
    .command('projections')
    .description('derived data kept beside the event log')
    .command('rebuild')
    .description('recompute every projection (trust, runs, follow-ups, breakers) from zero and check the incremental ones agree')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/trust.js'), 'rebuild'));

  const audit = program
    .command('audit')
    .description('sampled auto merges awaiting a post-hoc audit; record verdicts; verify the event log')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/audit.js'), 'list'));
  audit
    .command('agree')
    .description('the audited auto merge was right')
    .argument('<run>', RUN_ARG)
    .option('--note <text>', 'comment')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/audit.js'), 'agree'));
  audit
    .command('disagree')
    .description('the audited auto merge should not have landed (evidence against the agent)')
    .argument('<run>', RUN_ARG)
    .requiredOption('--note <text>', 'what was wrong')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/audit.js'), 'disagree'));
  audit
    .command('verify')
    .description('verify the hash chain, the schema and the checkpoint; names the first bad sequence')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/audit-verify.js')));

  const store = program.command('store').description('the shared (PostgreSQL) event log of a team');
  store
    .command('init')
    .description('as a database administrator: create or upgrade the store and grant the writer role INSERT/SELECT only')
    .requiredOption('--admin-url <url>', 'postgres:// URL of a superuser or the database owner (password from PGPASSWORD or ~/.pgpass)')
    .option('--writer <role>', 'the role agentctl connects as (created with LOGIN when missing)', 'agentctl_writer')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('agentctl store init --admin-url postgres://postgres@db.internal/agentctl --writer agentctl_writer'))
    .action(act(() => import('../commands/store-init.js')));
  store
    .command('approve [url]')
    .description("use on this machine the shared store a repository's .agentrc.yaml names (a committed store: is ignored until approved)")
    .option('--json', 'print JSON')
    .addHelpText('after', examples('agentctl store approve', 'agentctl store approve postgres://agentctl_writer@db.internal/agentctl'))
    .action(act(() => import('../commands/store-approve.js')));
  store
    .command('migrate')
    .description('copy this machine\'s local event log (AGENTCTL_HOME) into a team\'s PostgreSQL store: verified first, every event keeps its id, time and payload, re-running copies nothing twice')
    .requiredOption('--to <url>', 'postgres:// URL of the shared store (the writer role; the team key in AGENTCTL_LOG_KEY_FILE or $AGENTCTL_HOME/keys/team.key)')
    .option('--batch-size <n>', 'events per transaction', '1000')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('agentctl store migrate --to postgres://agentctl_writer@db.internal/agentctl'))
    .action(act(() => import('../commands/store-migrate.js')));

  program
    .command('halt')
    .description('kill switch: stop every running agent (whole process trees) and block new runs until resume')
    .option('--reason <text>', 'why, recorded')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/halt.js'), 'haltCmd'));
  program
    .command('resume')
    .description('lift the kill switch')
    .option('--note <text>', 'recorded with the resume')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/halt.js'), 'resumeCmd'));

  const breakers = program
    .command('breakers')
    .description('circuit breakers per agent: volume, cost, error rate, scope')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/breakers.js'), 'show'));
  breakers
    .command('reset')
    .description('reset a tripped breaker (a human decision, recorded)')
    .argument('<breaker>', 'volume, cost, errors or scope')
    .requiredOption('--agent <agent>', 'agent the breaker tripped for')
    .option('--note <text>', 'why it is safe to resume')
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/breakers.js'), 'reset'));

  const policy = program.command('policy').description('inspect the composed policy of a task');
  policy
    .command('show')
    .description('the composed policy, where each rule came from, and each tool\'s rendered config')
    .argument('<task>', 'task id')
    .addOption(new Option('--tool <tool>', 'only this tool\'s config').choices(['claude', 'gemini', 'codex']))
    .option('--json', 'print JSON')
    .action(act(() => import('../commands/policy-show.js')));
  policy
    .command('check')
    .description('would the policy allow this action? prints allow/deny and the rule that decided')
    .argument('<task>', 'task id')
    .addOption(new Option('--tool <tool>', 'the tool the action is for (the decision is the policy\'s, the same for every tool)').choices(['claude', 'gemini', 'codex', 'command']))
    .requiredOption('--action <action>', "e.g. 'Edit src/a.ts', 'Read .env', 'Bash npm test', 'Fetch https://example.com'")
    .option('--json', 'print JSON')
    .addHelpText('after', examples("agentctl policy check fix-docs --tool claude --action 'Edit src/a.ts'", "agentctl policy check fix-docs --action 'Bash git push'"))
    .action(act(() => import('../commands/policy-check.js')));

  program
    .command('schema')
    .description('print the JSON Schema of profile files, .agentrc.yaml or task front matter (for editors)')
    .argument('<kind>', 'profile, config or task')
    .addHelpText('after', examples('agentctl schema profile > .agentctl/profile.schema.json'))
    .action(act(() => import('../commands/schema.js')));

  program
    .command('completion')
    .description('print a shell completion script, generated from this command table')
    .addArgument(new Argument('<shell>', 'the shell').choices(COMPLETION_SHELLS))
    .addHelpText(
      'after',
      examples('source <(agentctl completion bash)          # in ~/.bashrc', 'source <(agentctl completion zsh)           # in ~/.zshrc, after compinit', 'agentctl completion fish > ~/.config/fish/completions/agentctl.fish'),
    )
    .action(act(() => import('../commands/completion.js')));

  return program;
}
