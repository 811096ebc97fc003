/**
 * `opkfarm sftp-config`: the options it refuses, and what the real sshd makes
 * of its output: `sshd -t` accepts it, and `sshd -T` shows the upload account
 * confined (chroot, internal-sftp, keys only, no forwarding, no TTY) while
 * other accounts of the same sshd are not touched by the Match block.
 */
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forceCommand, sftpConfigOptions, sftpConfigText, type RawSftpConfigOptions } from '../../lib/upload/sftp-config.js';
import { runProgram } from '../support/programs.js';

const SSHD = '/usr/sbin/sshd';
const run = promisify(execFile);
const hasSshd = await access(SSHD).then(
  () => true,
  () => false,
);

const RAW: RawSftpConfigOptions = {
  root: '/srv/opkfarm',
  user: 'opkfarm-upload',
  farmUser: 'opkfarm',
  authorizedKeys: '/etc/opkfarm/authorized_keys',
  dedicated: false,
  pidFile: '/run/opkfarm-sshd.pid',
  listen: [],
};

describe('sftpConfigOptions', () => {
  it.each([
    [{ root: 'srv/opkfarm' }, '--root "srv/opkfarm" must be an absolute path'],
    [{ root: '/srv/my farm' }, '--root "/srv/my farm" holds a space, quote, "#", backslash or control character, which sshd_config cannot take unquoted'],
    [{ user: 'up\nPermitRootLogin yes' }, '--user "up\\nPermitRootLogin yes" is not an account name ([a-z_][a-z0-9_-]*, 32 characters at most)'],
    [{ authorizedKeys: '/etc/keys#x' }, '--authorized-keys "/etc/keys#x" holds a space, quote, "#", backslash or control character, which sshd_config cannot take unquoted'],
    [{ port: 2222 }, '--port is for a dedicated sshd: add --dedicated, or leave it out for a Match block'],
    [{ dedicated: true, hostKey: '/k' }, '--dedicated needs --port N, a port number from 1 to 65535'],
    [{ dedicated: true, port: 70000, hostKey: '/k' }, '--dedicated needs --port N, a port number from 1 to 65535, not 70000'],
    [{ dedicated: true, port: 2222 }, '--dedicated needs --host-key FILE, the private host key (ssh-keygen -t ed25519 -N "" -f FILE makes one)'],
  ] as const)('refuses %j', (change, message) => {
    expect(() => sftpConfigOptions({ ...RAW, ...change })).toThrow(message);
  });

  it('normalises paths', () => {
    expect(sftpConfigOptions({ ...RAW, root: '/srv//opkfarm/' }).root).toBe('/srv/opkfarm');
  });
});

describe('the configuration text', () => {
  it('explains the chroot, the account, the key file and how to add a key', () => {
    const text = sftpConfigText(sftpConfigOptions(RAW));
    expect(text).toContain('#   chown root:root /srv/opkfarm /srv/opkfarm/uploads && chmod 0755 /srv/opkfarm /srv/opkfarm/uploads\n');
    expect(text).toContain('#   chown opkfarm:opkfarm-upload /srv/opkfarm/uploads/incoming && chmod 0770 /srv/opkfarm/uploads/incoming\n');
    expect(text).toContain("#   echo 'restrict ssh-ed25519 AAAAC3Nza... jane@example.org' >> /etc/opkfarm/authorized_keys\n");
    expect(text).toMatch(/\nMatch User opkfarm-upload\n\tChrootDirectory \/srv\/opkfarm\/uploads\n\tForceCommand internal-sftp -d \/incoming /);
    expect(forceCommand()).toBe('internal-sftp -d /incoming -u 0022 -P symlink,hardlink,mkdir,rmdir,rename,lsetstat');
  });
});

describe.skipIf(!hasSshd)(`what ${SSHD} makes of it`, () => {
  let scratch: string;
  let hostKey: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'opkfarm-sftp-config-'));
    hostKey = join(scratch, 'host_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** `sshd -T` for a login of `user`: the effective settings, lower-case keys. */
  async function effective(config: string, user: string): Promise<Map<string, string>> {
    const { stdout } = await run(SSHD, ['-T', '-f', config, '-C', `user=${user},host=client.example.org,addr=192.0.2.1`]);
    return new Map(stdout.split('\n').filter((line) => line !== '').map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]));
  }

  const CONFINED = {
    chrootdirectory: '/srv/opkfarm/uploads',
    forcecommand: 'internal-sftp -d /incoming -u 0022 -P symlink,hardlink,mkdir,rmdir,rename,lsetstat',
    authorizedkeysfile: '/etc/opkfarm/authorized_keys',
    authenticationmethods: 'publickey',
    passwordauthentication: 'no',
    kbdinteractiveauthentication: 'no',
    permitrootlogin: 'no',
    disableforwarding: 'yes',
    allowtcpforwarding: 'no',
    allowstreamlocalforwarding: 'no',
    allowagentforwarding: 'no',
    x11forwarding: 'no',
    permittunnel: 'no',
    permitlisten: 'none',
    permitopen: 'none',
    permittty: 'no',
    permituserrc: 'no',
  };

  it('the Match block confines the upload account and no other', async () => {
    const output = await runProgram('opkfarm', ['sftp-config', '--root', '/srv/opkfarm']);
    expect(output.exitCode).toBe(0);
    const config = join(scratch, 'sshd_config');
    await writeFile(config, `HostKey ${hostKey}\nSubsystem sftp /usr/lib/openssh/sftp-server\n${String(output.stdout)}\n`);
    await run(SSHD, ['-t', '-f', config]);
    expect(Object.fromEntries([...(await effective(config, 'opkfarm-upload'))].filter(([key]) => key in CONFINED))).toEqual(CONFINED);
    const other = await effective(config, 'alice');
    expect([other.get('chrootdirectory'), other.get('forcecommand'), other.get('permittty')]).toEqual(['none', 'none', 'yes']);
  });

  it('the dedicated sshd_config serves the upload account alone, confined', async () => {
    const config = join(scratch, 'dedicated_config');
    const output = await runProgram('opkfarm', [
      'sftp-config', '--root', '/srv/opkfarm', '--dedicated', '--port', '2222', '--host-key', hostKey,
      '--pid-file', join(scratch, 'sshd.pid'), '--listen', '127.0.0.1', '--output', config,
    ]);
    expect(output.exitCode).toBe(0);
    await run(SSHD, ['-t', '-f', config]);
    const settings = await effective(config, 'opkfarm-upload');
    expect(Object.fromEntries([...settings].filter(([key]) => key in CONFINED))).toEqual(CONFINED);
    expect([settings.get('port'), settings.get('listenaddress'), settings.get('allowusers'), settings.get('usepam')]).toEqual([
      '2222',
      '127.0.0.1:2222',
      'opkfarm-upload',
      'no',
    ]);
  });
});
