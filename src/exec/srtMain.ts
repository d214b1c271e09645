/**
 * The OS sandbox's entry point: srt's own CLI (@anthropic-ai/sandbox-runtime 0.0.83, `dist/cli.js`:
 * `--settings <file> -- <command…>`), with agentctl's request filter on its proxy when the confined
 * process holds stand-ins for the agent tool's API keys (authz/credentials.ts). The filter is a function,
 * which a settings file cannot hold: it is added to the settings srt's CLI hands to
 * `SandboxManager.initialize` (the library's documented `network.filterRequest`).
 *
 * The keys come in {@link KEY_INJECTION_ENV}, which is removed from this process's environment before srt
 * starts anything, so the confined command never gets it (srt passes its own environment on). This
 * process is outside the sandbox's PID namespace: its `/proc/<pid>/environ` cannot be read from inside.
 * A malformed value stops here with an error (exit 1): the command is not started.
 */
import { SandboxManager } from '@anthropic-ai/sandbox-runtime';
import { injectedHeaders, KEY_INJECTION_ENV, parseKeyInjection } from '../authz/credentials.js';

const raw = process.env[KEY_INJECTION_ENV];
delete process.env[KEY_INJECTION_ENV];
if (raw !== undefined) {
  const injection = parseKeyInjection(raw);
  const initialize = SandboxManager.initialize.bind(SandboxManager);
  SandboxManager.initialize = (config, ...rest) =>
    initialize(
      {
        ...config,
        network: {
          ...config.network,
          filterRequest: async (request: Request, info?: { target?: { host: string; port: number } }) => {
            const setHeaders = injectedHeaders(injection, info?.target, request.headers);
            return setHeaders.length ? { action: 'allow', setHeaders } : { action: 'allow' };
          },
        },
      },
      ...rest,
    );
}
await import('@anthropic-ai/sandbox-runtime/dist/cli.js');
