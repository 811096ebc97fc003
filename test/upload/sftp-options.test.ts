/** The options `opkfarm upload` gives sftp: what is refused before sftp could read it as an option, and the destination's name. */
import { describe, expect, it } from 'vitest';
import { SftpTransport, sftpOptionsProblem, type SftpOptions } from '../../lib/upload/sftp-transport.js';

const OPTIONS: SftpOptions = { host: 'farm.example.org', remoteDirectory: '/incoming', strictHostKeyChecking: 'yes', sshOptions: [] };

describe('sftpOptionsProblem', () => {
  it.each([
    [{ host: '-oProxyCommand=touch /tmp/x' }, '--host "-oProxyCommand=touch /tmp/x" is not a host name or address'],
    [{ user: '-F/etc/evil' }, '--user "-F/etc/evil" is not an account name'],
    [{ port: 0 }, '--port must be a port number from 1 to 65535, not 0'],
    [{ remoteDirectory: '/incoming/../etc' }, '--remote-directory "/incoming/../etc" is not a plain path'],
    [{ remoteDirectory: '/in coming' }, '--remote-directory "/in coming" is not a plain path'],
    [{ sshOptions: ['ProxyCommand'] }, '--ssh-option "ProxyCommand" is not KEY=VALUE'],
    [{ sshOptions: ['UserKnownHostsFile=/x\nput /etc/passwd'] }, '--ssh-option "UserKnownHostsFile=/x\\nput /etc/passwd" is not KEY=VALUE'],
    [{ limitKbps: 1.5 }, '--limit must be a whole number of Kbit/s, not 1.5'],
  ] as const)('refuses %j', (change, message) => {
    expect(sftpOptionsProblem({ ...OPTIONS, ...change })).toBe(message);
  });

  it('takes ordinary values', () => {
    expect(sftpOptionsProblem({ ...OPTIONS, host: '192.0.2.7', user: 'opkfarm-upload', port: 2222, sshOptions: ['UserKnownHostsFile=/home/jane/.ssh/farm_hosts'] })).toBeUndefined();
  });
});

describe('SftpTransport', () => {
  it('names its destination for the .upload log', () => {
    expect(new SftpTransport(OPTIONS).destination).toBe('sftp://farm.example.org/incoming');
    expect(new SftpTransport({ ...OPTIONS, user: 'up', port: 2222, remoteDirectory: 'incoming' }).destination).toBe('sftp://up@farm.example.org:2222/incoming');
  });
});
