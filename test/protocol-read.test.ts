/**
 * readProtocolFile reads what the agent wrote to `.agentctl/` while the agent may still be changing it:
 * its checks are made on the opened file, so no link (of the file or of the folder), FIFO or oversized
 * file gets read.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readProtocolFile } from '../src/orchestrator/protocol.js';
import { cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

function worktree(): string {
  const wt = tempDir();
  mkdirSync(join(wt, '.agentctl'));
  return wt;
}

describe('readProtocolFile', () => {
  it('reads a regular file, and nothing for a missing one or one over 256 KiB', () => {
    const wt = worktree();
    writeFileSync(join(wt, '.agentctl', 'status.jsonl'), '{"status":"ok"}\n');
    expect(readProtocolFile(wt, 'status.jsonl')).toBe('{"status":"ok"}\n');
    expect(readProtocolFile(wt, 'trace.jsonl')).toBeUndefined();
    writeFileSync(join(wt, '.agentctl', 'trace.jsonl'), 'x'.repeat(256 * 1024 + 1));
    expect(readProtocolFile(wt, 'trace.jsonl')).toBeUndefined();
  });

  it('a .agentctl folder that is a link to a folder outside the worktree is not read through', () => {
    const outside = tempDir();
    writeFileSync(join(outside, 'handover.md'), 'SECRET\n');
    const wt = worktree();
    rmSync(join(wt, '.agentctl'), { recursive: true });
    symlinkSync(outside, join(wt, '.agentctl'));
    expect(readProtocolFile(wt, 'handover.md')).toBeUndefined();
  });

  it('a file that is a link, or a FIFO, is not read (and the FIFO does not block)', () => {
    const outside = tempDir();
    writeFileSync(join(outside, 'secret'), 'SECRET\n');
    const wt = worktree();
    symlinkSync(join(outside, 'secret'), join(wt, '.agentctl', 'handover.md'));
    expect(readProtocolFile(wt, 'handover.md')).toBeUndefined();
    expect(spawnSync('mkfifo', [join(wt, '.agentctl', 'status.jsonl')]).status).toBe(0);
    expect(readProtocolFile(wt, 'status.jsonl')).toBeUndefined();
  });
});
