/** Which event store a command uses: AGENTCTL_STORE over `store:` in .agentrc.yaml over the local SQLite log. */
import { redactUrl } from '../src/core/urlSecrets.js';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { approveStore } from '../src/evidence/storeApproval.js';
import { cleanup, tempDir } from './helpers.js';
import { homePaths } from '../src/core/paths.js';
import { parseConfig } from '../src/definition/config.js';
import { storeTarget, teamKeyFile } from '../src/evidence/openStore.js';

const paths = homePaths('/h');
afterEach(cleanup);

describe('store selection', () => {
  it('the environment wins over the config; sqlite forces the local log; nothing set is the local log', async () => {
    expect(storeTarget(paths, {})).toEqual({ kind: 'sqlite', file: '/h/agentctl.db' });
    // A committed store: only once approved on this machine (test/e2e/store-approval.test.ts drives the attack).
    expect(() => storeTarget(paths, {}, 'postgres://w@db/agentctl')).toThrow(/postgres:\/\/w@db\/agentctl, which you have not approved/);
    const home = homePaths(tempDir());
    await approveStore(home, 'postgresql://w@DB/agentctl');
    expect(storeTarget(home, {}, 'postgres://w@db/agentctl')).toEqual({ kind: 'postgres', url: 'postgres://w@db/agentctl' });
    expect(() => storeTarget(home, {}, 'postgres://w@db2/agentctl')).toThrow(/not approved/);
    expect(storeTarget(paths, { AGENTCTL_STORE: 'postgresql://x@y/z' }, 'postgres://w@db/agentctl')).toEqual({ kind: 'postgres', url: 'postgresql://x@y/z' });
    expect(storeTarget(paths, { AGENTCTL_STORE: 'sqlite' }, 'postgres://w@db/agentctl')).toEqual({ kind: 'sqlite', file: '/h/agentctl.db' });
    expect(() => storeTarget(paths, { AGENTCTL_STORE: 'mysql://a' })).toThrow(/must be "sqlite" or a postgres:\/\/ URL/);
  });

  it('the team key: AGENTCTL_LOG_KEY_FILE, else keys/team.key in the home (never the local log key); only where the OS sandbox hides it', () => {
    expect(teamKeyFile(paths, {})).toBe('/h/keys/team.key');
    expect(teamKeyFile(paths, {})).not.toBe(paths.keyFile);
    expect(teamKeyFile(paths, { AGENTCTL_LOG_KEY_FILE: '/u/.config/agentctl/team.key' }, '/u')).toBe('/u/.config/agentctl/team.key');
    expect(teamKeyFile(paths, { AGENTCTL_LOG_KEY_FILE: '/h/other.key' }, '/u')).toBe('/h/other.key');
    // Anywhere else an agent could read it and forge the team's evidence.
    expect(() => teamKeyFile(paths, { AGENTCTL_LOG_KEY_FILE: '/secrets/agentctl.key' }, '/u')).toThrow(/outside the folders the OS sandbox hides/);
    expect(() => teamKeyFile(paths, { AGENTCTL_LOG_KEY_FILE: '/u/.config/agentctl-evil/k' }, '/u')).toThrow(/outside the folders/);
    // A folder below a hidden one that is a symlink into a place agents see hides nothing.
    const u = tempDir();
    mkdirSync(join(u, 'visible'));
    mkdirSync(join(u, '.config', 'agentctl'), { recursive: true });
    symlinkSync(join(u, 'visible'), join(u, '.config', 'agentctl', 'keys'));
    expect(() => teamKeyFile(homePaths(join(u, 'home')), { AGENTCTL_LOG_KEY_FILE: join(u, '.config', 'agentctl', 'keys', 'team.key') }, u)).toThrow(/outside the folders/);
    mkdirSync(join(u, '.local', 'share', 'agentctl'), { recursive: true });
    expect(teamKeyFile(homePaths(join(u, 'home')), { AGENTCTL_LOG_KEY_FILE: join(u, '.local', 'share', 'agentctl', 'team.key') }, u)).toBe(join(u, '.local', 'share', 'agentctl', 'team.key'));
  });

  it('`store:` in .agentrc.yaml is sqlite or a postgres:// URL, never with a password (the file is committed)', () => {
    expect(parseConfig('/r', 'store: postgres://agentctl_writer@db.internal/agentctl\n', 'r').store).toBe('postgres://agentctl_writer@db.internal/agentctl');
    expect(parseConfig('/r', undefined, 'r').store).toBeUndefined();
    expect(() => parseConfig('/r', 'store: postgres://w:hunter2@db/agentctl\n', 'r')).toThrow(/store.*must not contain a password/s);
    expect(() => parseConfig('/r', 'store: postgres://w@db/agentctl?password=hunter2\n', 'r')).toThrow(/store.*must not contain a password/s);
    expect(() => parseConfig('/r', 'store: postgres://w@db/agentctl?sslmode=require&sslpassword=x\n', 'r')).toThrow(/store.*must not contain a password/s);
  });

  it('messages never carry a password, in the user info or in the query string', () => {
    expect(redactUrl('postgres://w:hunter2@db/agentctl')).toBe('postgres://w:***@db/agentctl');
    expect(redactUrl('postgres://w@db/agentctl?sslmode=require&password=hunter2&application_name=a')).toBe('postgres://w@db/agentctl?sslmode=require&password=***&application_name=a');
    expect(() => parseConfig('/r', 'store: mongodb://db\n', 'r')).toThrow(/store.*must be "sqlite" or a postgres:\/\/ URL/s);
  });
});
