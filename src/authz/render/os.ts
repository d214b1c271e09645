/**
 * OS sandbox renderer: policy → settings for `srt` (@anthropic-ai/sandbox-runtime), which wraps any
 * agent in bubblewrap on Linux (sandbox-exec on macOS) with filesystem and network restrictions.
 *
 * Source: @anthropic-ai/sandbox-runtime README (0.0.83): `srt --settings <file> -- <command…>`; settings
 * `{filesystem: {denyRead, allowRead, allowWrite, denyWrite}, network: {allowedDomains, deniedDomains}}`;
 * reads are allowed everywhere unless denied (a more specific denyRead inside an allowRead stays
 * denied); writes are denied everywhere unless allowed, and `denyWrite` beats `allowWrite`; network is
 * denied unless a domain is allowed, through proxies on the host. On Linux it needs `bwrap`, `socat` and
 * `rg` on PATH.
 */
import { join } from 'node:path';
import { isGitMetadataGlob, type Policy } from '../policy.js';
import type { GeneratedFile, RenderContext } from './types.js';

/** srt settings. */
export interface SrtSettings {
  filesystem: { denyRead: string[]; allowWrite: string[]; denyWrite: string[] };
  network: { allowedDomains: string[]; deniedDomains: string[] };
}

/** A repository glob as an absolute srt path pattern inside the worktree (`~/` kept as is). */
function abs(glob: string, ctx: RenderContext): string {
  if (glob.startsWith('~/')) return glob;
  return join(ctx.worktree, glob.includes('/') ? glob : `**/${glob}`);
}

/**
 * Build srt settings for a run.
 * @param extraWritable absolute folders the tool itself must write (its per-run home, temp dir)
 * @param apiHosts hosts the agent tool needs for its model API (allowed even when the policy turns the network off)
 */
function srtSettings(policy: Policy, ctx: RenderContext, extraWritable: readonly string[], apiHosts: readonly string[]): SrtSettings {
  const writes = policy.write.some((w) => w.value === '**') ? [ctx.worktree] : policy.write.filter((w) => !w.value.startsWith('~/')).map((w) => abs(w.value, ctx));
  return {
    filesystem: {
      denyRead: policy.deny.map((d) => abs(d.value, ctx)),
      allowWrite: [...writes, ...extraWritable],
      denyWrite: [...policy.deny, ...policy.protected].filter((d) => !isGitMetadataGlob(d.value)).map((d) => abs(d.value, ctx)),
    },
    network: { allowedDomains: policy.network.value ? ['*'] : [...apiHosts], deniedDomains: [] },
  };
}

/** Render the srt settings file (`<runDir>/os-sandbox.json`). */
export function renderOsSandbox(policy: Policy, ctx: RenderContext, extraWritable: readonly string[], apiHosts: readonly string[]): GeneratedFile {
  return { path: join(ctx.runDir, 'os-sandbox.json'), content: JSON.stringify(srtSettings(policy, ctx, extraWritable, apiHosts), null, 2) + '\n' };
}
