/** `agentctl policy show <task>`: the composed policy, rule provenance and each tool's rendered config. */
import { homedir } from 'node:os';
import chalk from 'chalk';
import { adapterFor } from '../adapters/registry.js';
import { EXIT } from '../core/errors.js';
import { runDir, worktreePath } from '../core/paths.js';
import { osSandboxSettings, srtPathText } from '../authz/render/os.js';
import { locateOsSandbox } from '../exec/osSandbox.js';
import { policyFor } from '../orchestrator/plan.js';
import { keyStandIns } from '../orchestrator/stages/confine.js';
import { sandboxLayoutFor } from '../orchestrator/stages/prepare.js';
import { findRunnableTask } from '../orchestrator/tasks.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';
import { withContext } from './shared.js';

export default async function policyShow(taskId: string, opts: { tool?: 'claude' | 'gemini' | 'codex'; json?: boolean }): Promise<number> {
  return withContext((ctx) => {
    const task = findRunnableTask(ctx, taskId);
    const policy = policyFor(ctx, task);
    // Rendered as for a run with placeholder ids, so paths show where they would go.
    const ctxPaths = { worktree: worktreePath(ctx.paths, ctx.project.key, task.id, '<run>'), runDir: runDir(ctx.paths, '<run>'), homeDir: homedir() };
    const tools = opts.tool ? [opts.tool] : (['claude', 'gemini', 'codex'] as const);
    const rendered = Object.fromEntries(tools.map((t) => [t, adapterFor(t).render(policy, ctxPaths)]));
    const located = locateOsSandbox(ctx.env, ctx.project.root, ctx.project.config.osSandboxBin);
    // As for a run (stages/confine.ts maskKeys): the API and its keys as the tool gets them (agents.<tool>.env over this environment).
    const { apiHosts, names: standIns, keys } = keyStandIns(policy.sandbox.value === 'os' && 'sandbox' in located ? located.sandbox : undefined, adapterFor(task.agent), { ...ctx.env, ...ctx.project.config.agents[task.agent].env });
    const osSandbox = {
      mode: policy.sandbox.value,
      source: policy.sandbox.source,
      available: 'sandbox' in located,
      missing: 'missing' in located ? located.missing : [],
      // What the agent's processes may see and write, for a run with a placeholder id.
      settings: osSandboxSettings(policy, { ...sandboxLayoutFor(ctx, ctxPaths.worktree, ctxPaths.runDir), readOnlyFiles: [] }, apiHosts, keys),
      /** The variables that hold a stand-in inside, and the one `host:port` that gets the real keys. */
      apiKeys: standIns.length ? { standIns, realKeysFor: apiHosts[0]! } : null,
    };
    if (opts.json) {
      printJson({ task: task.id, policy, osSandbox, rendered });
      return EXIT.OK;
    }
    const list = (title: string, rules: { value: string; source: string }[]) =>
      println(chalk.bold(title), ...(rules.length ? rules.map((r) => `  ${terminalSafe(r.value)}  ${chalk.dim(`← ${terminalSafe(r.source)}`)}`) : ['  (none)']));
    println(`${chalk.bold('Policy for')} ${terminalSafe(task.id)}: profiles ${terminalSafe(policy.profiles.join(' + '))}${policy.yolo ? chalk.red(' (yolo)') : ''}`);
    list('read', policy.read);
    list('write', policy.write);
    list('deny (read and write)', policy.deny);
    list('protected (never written)', policy.protected);
    list('commands allowed', policy.commands.allow);
    list('commands denied', policy.commands.deny);
    println(chalk.bold('network'), `  ${policy.network.value ? 'on' : 'off'}  ${chalk.dim(`← ${terminalSafe(policy.network.source)}`)}`);
    println(
      chalk.bold('OS sandbox'),
      osSandbox.mode === 'none'
        ? chalk.red(`  none  ← ${terminalSafe(osSandbox.source)}: the run's processes can read and write anything you can; capped at review, earns nothing toward auto`)
        : `  os  ${chalk.dim(`← ${terminalSafe(osSandbox.source)}`)}  ${osSandbox.available ? chalk.green('can start here') : chalk.red(`CANNOT start here (missing: ${osSandbox.missing.join(', ')}): runs are refused`)}`,
      ...(osSandbox.mode === 'os'
        ? [
            `  readable (everything else is hidden): ${osSandbox.settings.filesystem.allowRead.map((p) => terminalSafe(srtPathText(p))).join(', ')}`,
            `  hidden even inside those: ${osSandbox.settings.filesystem.denyRead.filter((p) => p !== '/').map((p) => terminalSafe(srtPathText(p))).join(', ')}`,
            `  writable: ${osSandbox.settings.filesystem.allowWrite.map((p) => terminalSafe(srtPathText(p))).join(', ')}`,
            `  network: ${osSandbox.settings.network.allowedDomains.length ? osSandbox.settings.network.allowedDomains.map((p) => terminalSafe(p)).join(', ') : 'none'}`,
            ...(osSandbox.apiKeys
              ? [`  API keys: ${osSandbox.apiKeys.standIns.join(', ')} hold a stand-in inside; the sandbox's proxy puts the real key in the authentication header of requests to ${terminalSafe(osSandbox.apiKeys.realKeysFor)} only`]
              : []),
          ]
        : []),
    );
    for (const [tool, r] of Object.entries(rendered)) {
      if (!r) continue;
      println('', chalk.bold(`${tool}: ${terminalSafe(r.args.join(' '))}`));
      for (const f of r.files) println(chalk.dim(`# ${terminalSafe(f.path)}`), terminalSafe(f.content.trimEnd(), { multiline: true }));
    }
    return EXIT.OK;
  });
}
