/** The farm configuration: the shipped example, defaults, overrides, and every error with its exact message. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../lib/config.js';
import { EnvironmentError } from '../lib/errors.js';
import { DEFAULT_THRESHOLDS } from '../lib/health/types.js';
import { formatErrorOf } from './support/errors.js';

const EXAMPLE = fileURLToPath(new URL('../queues-layout/opkfarm.conf.example', import.meta.url));

/** Builder-Sandbox, Build-Log-Limit and Build-Output-Limit when left out. */
const BUILD_DEFAULTS = { sandbox: 'auto', logLimitBytes: 64 * 1024 ** 2, outputLimitBytes: 4 * 1024 ** 3 };

/** A minimal valid configuration; tests append to or replace parts of it. */
const FARM = 'Farm: test\n';
const QUEUE = 'Queue: amd64\nArchitectures: amd64-linux-glibc all\n';
/** The start of a Farm stanza mailing through SMTP; tests append lines at line 4 on. */
const SMTP = 'Farm: test\nMail-Transport: smtp\nMail-SMTP-Host: mail.example.org\n';

function messageOf(text: string): string {
  return formatErrorOf(() => parseConfig(text, 'opkfarm.conf')).message;
}

describe('the shipped example', () => {
  it('parses, with every key it documents', async () => {
    const config = await loadConfig(EXAMPLE);
    expect(config.name).toBe('example');
    expect(config.distributions).toEqual(['trunk', 'rs1']);
    expect(config.mail).toEqual({
      from: 'Example build farm <buildd@example.org>',
      transport: 'outbox',
      copyTo: 'archive-log@example.org',
    });
    expect(config.builder).toEqual({ kind: 'builtin', timeoutSeconds: 3600, ...BUILD_DEFAULTS });
    expect(config.leaseSeconds).toBe(600);
    expect(config.rescanSeconds).toBe(30);
    expect(config.uploadWaitSeconds).toBe(86400);
    expect(config.unpackedLimitBytes).toBe(4 * 1024 ** 3);
    expect(config.health).toEqual(DEFAULT_THRESHOLDS);
    expect(config.queues).toEqual([
      {
        name: 'amd64',
        architectures: ['amd64-linux-glibc', 'all'],
        platforms: ['dev'],
        builder: { kind: 'builtin', timeoutSeconds: 3600, ...BUILD_DEFAULTS },
      },
      {
        name: 'arm',
        architectures: ['armhf-linux-gnueabihf'],
        platforms: [],
        builder: {
          kind: 'command',
          command: ['/usr/local/bin/opk-cross-build', '--target', 'armhf-linux-gnueabihf'],
          timeoutSeconds: 7200,
          ...BUILD_DEFAULTS,
        },
      },
    ]);
    expect([...config.servedArchitectures]).toEqual([
      ['amd64-linux-glibc', 'amd64'],
      ['all', 'amd64'],
      ['armhf-linux-gnueabihf', 'arm'],
    ]);
  });
});

describe('parseConfig', () => {
  it('fills in the defaults', () => {
    const config = parseConfig(`${FARM}\n${QUEUE}`, 'opkfarm.conf');
    expect(config).toEqual({
      name: 'test',
      distributions: ['trunk'],
      mail: { from: 'opkfarm <opkfarm@localhost>', transport: 'outbox' },
      builder: { kind: 'builtin', timeoutSeconds: 3600, ...BUILD_DEFAULTS },
      leaseSeconds: 600,
      rescanSeconds: 30,
      archive: { keepBuilds: 2, graceHours: 24, gcLimit: 1000, batchWaitMilliseconds: 200 },
      uploadWaitSeconds: 86400,
      unpackedLimitBytes: 4 * 1024 ** 3,
      health: DEFAULT_THRESHOLDS,
      queues: [
        { name: 'amd64', architectures: ['amd64-linux-glibc', 'all'], platforms: [], builder: { kind: 'builtin', timeoutSeconds: 3600, ...BUILD_DEFAULTS } },
      ],
      servedArchitectures: new Map([
        ['amd64-linux-glibc', 'amd64'],
        ['all', 'amd64'],
      ]),
    });
  });

  it('reads every health threshold', () => {
    const config = parseConfig(
      'Farm: test\nHealth-Heartbeat-Seconds: 120\nHealth-Queue-Age-Seconds: 3600 7200\nHealth-Archive-Queue-Age-Seconds: 60  600\n' +
        'Health-Failed-Build-Window-Seconds: 86400\nHealth-Leftover-Age-Seconds: 900\nHealth-Release-Lag-Days: 7\nHealth-Free-Space-Percent: 20 5.5\n\n' +
        QUEUE,
      'opkfarm.conf',
    );
    expect(config.health).toEqual({
      heartbeatStale: 120,
      queueAge: [3600, 7200],
      archiveQueueAge: [60, 600],
      failedBuildWindow: 86400,
      leftoverAge: 900,
      releaseLag: 7 * 86400,
      freeSpace: [0.2, 0.055],
    });
  });

  it('reads keys case-insensitively and skips comments anywhere', () => {
    const config = parseConfig(
      '# the farm\nfarm: test\n# a comment inside the stanza\nbuild-timeout: 60\n\n# a queue\nQUEUE: q\narchitectures: all\n',
      'opkfarm.conf',
    );
    expect(config.builder.timeoutSeconds).toBe(60);
    expect(config.queues[0]?.name).toBe('q');
  });

  it('lets a queue override the farm builder, inheriting what it leaves out', () => {
    const config = parseConfig(
      'Farm: test\nBuilder: command\nBuilder-Command: build-it  --verbose\n  --chroot /srv/c\nBuild-Timeout: 100\n\n' +
        'Queue: a\nArchitectures: all\n\n' +
        'Queue: b\nArchitectures: amd64-linux-glibc\nBuild-Timeout: 200\n\n' +
        'Queue: c\nArchitectures: i386-linux-glibc\nBuilder: builtin\n\n' +
        'Queue: d\nArchitectures: arm64-linux-glibc\nBuilder-Command: other\n',
      'opkfarm.conf',
    );
    const command = ['build-it', '--verbose', '--chroot', '/srv/c'];
    expect(config.builder).toEqual({ kind: 'command', command, timeoutSeconds: 100, ...BUILD_DEFAULTS });
    expect(config.queues.map((queue) => queue.builder)).toEqual([
      { kind: 'command', command, timeoutSeconds: 100, ...BUILD_DEFAULTS },
      { kind: 'command', command, timeoutSeconds: 200, ...BUILD_DEFAULTS },
      { kind: 'builtin', timeoutSeconds: 100, ...BUILD_DEFAULTS },
      { kind: 'command', command: ['other'], timeoutSeconds: 100, ...BUILD_DEFAULTS },
    ]);
  });

  it('accepts every mail transport and bare addresses, with the defaults of each', () => {
    const mail = (fields: string) =>
      parseConfig(`Farm: test\nMail-From: farm@example.org\nMail-Copy-To: Log <log@example.org>\n${fields}\n${QUEUE}`, 'opkfarm.conf').mail;
    const common = { from: 'farm@example.org', copyTo: 'Log <log@example.org>' };
    expect(mail('Mail-Transport: outbox\n')).toEqual({ ...common, transport: 'outbox' });
    expect(mail('Mail-Transport: smtp\nMail-SMTP-Host: mail.example.org\n')).toEqual({
      ...common,
      transport: 'smtp',
      smtp: { host: 'mail.example.org', port: 587, security: 'starttls' },
    });
    expect(mail('Mail-Transport: smtp\nMail-SMTP-Host: 192.0.2.25\nMail-SMTP-Security: tls\n').transport === 'smtp').toBe(true);
    expect(mail('Mail-Transport: sendmail\n')).toEqual({ ...common, transport: 'sendmail', sendmail: { command: ['/usr/sbin/sendmail'] } });
  });

  it('reads every SMTP key and a sendmail command with options', () => {
    const smtp = parseConfig(
      'Farm: test\nMail-Transport: smtp\nMail-SMTP-Host: mail.example.org\nMail-SMTP-Port: 2525\nMail-SMTP-Security: tls\n' +
        'Mail-SMTP-User: buildd@example.org\nMail-SMTP-Password-File: /etc/opkfarm/smtp-password\nMail-SMTP-CA-File: /etc/opkfarm/ca.pem\n\n' +
        QUEUE,
      'opkfarm.conf',
    ).mail;
    expect(smtp).toEqual({
      from: 'opkfarm <opkfarm@localhost>',
      transport: 'smtp',
      smtp: {
        host: 'mail.example.org',
        port: 2525,
        security: 'tls',
        login: { user: 'buildd@example.org', passwordFile: '/etc/opkfarm/smtp-password' },
        caFile: '/etc/opkfarm/ca.pem',
      },
    });
    const ports = (security: string) =>
      parseConfig(`Farm: test\nMail-Transport: smtp\nMail-SMTP-Host: ::1\nMail-SMTP-Security: ${security}\n\n${QUEUE}`, 'opkfarm.conf').mail;
    expect(['starttls', 'tls', 'none'].map((security) => {
      const mail = ports(security);
      return mail.transport === 'smtp' ? mail.smtp.port : undefined;
    })).toEqual([587, 465, 25]);
    // A login without TLS is fine to a server on this host.
    const local = parseConfig(
      `Farm: test\nMail-Transport: smtp\nMail-SMTP-Host: 127.0.0.1\nMail-SMTP-Security: none\nMail-SMTP-User: u\nMail-SMTP-Password-File: /p\n\n${QUEUE}`,
      'opkfarm.conf',
    ).mail;
    expect(local.transport === 'smtp' && local.smtp.login).toEqual({ user: 'u', passwordFile: '/p' });
    const sendmail = parseConfig(`Farm: test\nMail-Transport: sendmail\nMail-Sendmail-Command: /usr/bin/msmtp  -C /etc/msmtprc\n\n${QUEUE}`, 'opkfarm.conf').mail;
    expect(sendmail).toEqual({ from: 'opkfarm <opkfarm@localhost>', transport: 'sendmail', sendmail: { command: ['/usr/bin/msmtp', '-C', '/etc/msmtprc'] } });
  });

  it.each([
    ['unknown key, with a suggestion', 'Farm: test\nBuild-Timout: 60\n\n' + QUEUE, 'opkfarm.conf:2: unknown key "Build-Timout" (did you mean "Build-Timeout"?)'],
    ['unknown key, written in part', 'Farm: test\n\nQueue: q\nArchitecture: all\n', 'opkfarm.conf:4: unknown key "Architecture" (did you mean "Architectures"?)'],
    [
      'unknown key, nothing close',
      'Farm: test\nColour: blue\n\n' + QUEUE,
      'opkfarm.conf:2: unknown key "Colour" (a Farm stanza takes Farm, Distributions, Mail-From, Mail-Transport, Mail-Copy-To, ' +
        'Mail-SMTP-Host, Mail-SMTP-Port, Mail-SMTP-Security, Mail-SMTP-User, Mail-SMTP-Password-File, Mail-SMTP-CA-File, ' +
        'Mail-Sendmail-Command, Builder, Builder-Command, Build-Timeout, Builder-Sandbox, Build-Log-Limit, Build-Output-Limit, ' +
        'Lease-Seconds, Rescan-Seconds, Archive-Keep-Builds, Archive-Grace-Hours, Archive-GC-Limit, Archive-Batch-Wait-Milliseconds, ' +
        'Upload-Wait-Seconds, Unpacked-Size-Limit, ' +
        'Health-Heartbeat-Seconds, Health-Queue-Age-Seconds, Health-Archive-Queue-Age-Seconds, Health-Failed-Build-Window-Seconds, ' +
        'Health-Leftover-Age-Seconds, Health-Release-Lag-Days, Health-Free-Space-Percent)',
    ],
    ['bad gc setting', FARM + 'Archive-Keep-Builds: two\n\n' + QUEUE, 'opkfarm.conf:2: Archive-Keep-Builds must be a whole number (0 or more), not "two"'],
    ['batch wait not a number', FARM + 'Archive-Batch-Wait-Milliseconds: 0.2\n\n' + QUEUE, 'opkfarm.conf:2: Archive-Batch-Wait-Milliseconds must be a whole number (0 or more), not "0.2"'],
    ['batch wait too long', FARM + 'Archive-Batch-Wait-Milliseconds: 60000\n\n' + QUEUE, 'opkfarm.conf:2: Archive-Batch-Wait-Milliseconds must be at most 10000, not 60000'],
    ['farm key in a queue', FARM + '\nQueue: q\nArchitectures: all\nLease-Seconds: 5\n', 'opkfarm.conf:5: Lease-Seconds is a farm-wide key: move it to the Farm stanza'],
    ['queue key in the farm', 'Farm: test\nPlatforms: dev\n\n' + QUEUE, 'opkfarm.conf:2: Platforms belongs in a Queue stanza, not in the Farm stanza'],
    ['empty file', '# nothing but a comment\n', 'opkfarm.conf: no Farm stanza: the configuration must start with "Farm: <name>"'],
    ['missing Farm stanza', QUEUE, 'opkfarm.conf:1: the first stanza must be the Farm stanza, starting with "Farm:" (found "Queue:")'],
    ['Farm not first', 'Distributions: trunk\nFarm: test\n\n' + QUEUE, 'opkfarm.conf:1: the first stanza must be the Farm stanza, starting with "Farm:" (found "Distributions:")'],
    ['a second Farm stanza', FARM + '\n' + QUEUE + '\nFarm: again\n', 'opkfarm.conf:6: every stanza after the Farm stanza must start with "Queue:" (found "Farm:")'],
    ['second stanza not a queue', FARM + '\nName: q\n', 'opkfarm.conf:3: every stanza after the Farm stanza must start with "Queue:" (found "Name:")'],
    [
      'blank line inside the Farm stanza',
      'Farm: test\n\nBuild-Timeout: 5\n\n' + QUEUE,
      'opkfarm.conf:3: every stanza after the Farm stanza must start with "Queue:" (found "Build-Timeout:"; a blank line ends a stanza, even between comments)',
    ],
    ['no queues', '# farm\nFarm: test\n', 'opkfarm.conf: no build queues: add a "Queue: <name>" stanza after the Farm stanza'],
    ['empty value', 'Farm: test\nMail-Copy-To:\n\n' + QUEUE, 'opkfarm.conf:2: Mail-Copy-To is empty (leave the key out for the default)'],
    ['bad farm name', 'Farm: my farm\n\n' + QUEUE, 'opkfarm.conf:1: Farm must be one word of letters, digits and "._+-", not "my farm"'],
    ['bad distribution', 'Farm: test\nDistributions: trunk Rs1\n\n' + QUEUE, 'opkfarm.conf:2: Distributions: "Rs1" is not a distribution name ([a-z0-9][a-z0-9.+-]*)'],
    ['distribution twice', 'Farm: test\nDistributions: trunk trunk\n\n' + QUEUE, 'opkfarm.conf:2: Distributions lists "trunk" twice'],
    ['bad Mail-From', 'Farm: test\nMail-From: farm\n\n' + QUEUE, 'opkfarm.conf:2: Mail-From must be an address or "Name <address>", not "farm"'],
    ['bad Mail-Copy-To', 'Farm: test\nMail-Copy-To: Log <log>\n\n' + QUEUE, 'opkfarm.conf:2: Mail-Copy-To must be an address or "Name <address>", not "Log <log>"'],
    ['bad Mail-Transport', 'Farm: test\nMail-Transport: pigeon\n\n' + QUEUE, 'opkfarm.conf:2: Mail-Transport must be outbox, smtp or sendmail, not "pigeon"'],
    ['smtp without a host', 'Farm: test\nMail-Transport: smtp\n\n' + QUEUE, 'opkfarm.conf:2: Mail-Transport is smtp but Mail-SMTP-Host is missing'],
    ['bad SMTP host', 'Farm: test\nMail-Transport: smtp\nMail-SMTP-Host: mail example\n\n' + QUEUE, 'opkfarm.conf:3: Mail-SMTP-Host must be a host name or an IP address, not "mail example"'],
    ['bad SMTP host, a URL', 'Farm: test\nMail-Transport: smtp\nMail-SMTP-Host: smtp://mail.example.org\n\n' + QUEUE, 'opkfarm.conf:3: Mail-SMTP-Host must be a host name or an IP address, not "smtp://mail.example.org"'],
    ['SMTP port not a number', SMTP + 'Mail-SMTP-Port: smtp\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-Port must be a port number from 1 to 65535, not "smtp"'],
    ['SMTP port zero', SMTP + 'Mail-SMTP-Port: 0\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-Port must be a port number from 1 to 65535, not "0"'],
    ['SMTP port too large', SMTP + 'Mail-SMTP-Port: 70000\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-Port must be a port number from 1 to 65535, not "70000"'],
    ['bad SMTP security', SMTP + 'Mail-SMTP-Security: ssl\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-Security must be starttls, tls or none, not "ssl"'],
    ['SMTP user without a password file', SMTP + 'Mail-SMTP-User: u\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-User is set but Mail-SMTP-Password-File is missing (the password is read from that file)'],
    ['SMTP password file without a user', SMTP + 'Mail-SMTP-Password-File: /p\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-Password-File is set but Mail-SMTP-User is missing'],
    ['relative SMTP password file', SMTP + 'Mail-SMTP-User: u\nMail-SMTP-Password-File: secret\n\n' + QUEUE, 'opkfarm.conf:5: Mail-SMTP-Password-File must be an absolute path, not "secret"'],
    ['SMTP user with spaces', SMTP + 'Mail-SMTP-User: a b\nMail-SMTP-Password-File: /p\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-User must be one word, not "a b"'],
    [
      'a password in clear to another host',
      SMTP + 'Mail-SMTP-Security: none\nMail-SMTP-User: u\nMail-SMTP-Password-File: /p\n\n' + QUEUE,
      'opkfarm.conf:4: Mail-SMTP-Security: none would send the password unencrypted to "mail.example.org"; use starttls or tls (none is for a server on this host)',
    ],
    ['a CA file without TLS', SMTP + 'Mail-SMTP-Security: none\nMail-SMTP-CA-File: /ca.pem\n\n' + QUEUE, 'opkfarm.conf:5: Mail-SMTP-CA-File is set but Mail-SMTP-Security is none, which uses no certificates'],
    ['relative CA file', SMTP + 'Mail-SMTP-CA-File: ca.pem\n\n' + QUEUE, 'opkfarm.conf:4: Mail-SMTP-CA-File must be an absolute path, not "ca.pem"'],
    [
      'an SMTP key without Mail-Transport: smtp',
      'Farm: test\nMail-SMTP-Host: mail.example.org\n\n' + QUEUE,
      'opkfarm.conf:2: Mail-SMTP-Host is set but Mail-Transport is outbox; set "Mail-Transport: smtp" or remove Mail-SMTP-Host',
    ],
    [
      'a sendmail key with smtp',
      SMTP + 'Mail-Sendmail-Command: /usr/sbin/sendmail\n\n' + QUEUE,
      'opkfarm.conf:4: Mail-Sendmail-Command is set but Mail-Transport is smtp; set "Mail-Transport: sendmail" or remove Mail-Sendmail-Command',
    ],
    ['misspelt SMTP key', SMTP + 'Mail-SMTP-Hots: x\n\n' + QUEUE, 'opkfarm.conf:4: unknown key "Mail-SMTP-Hots" (did you mean "Mail-SMTP-Host"?)'],
    ['bad Builder', 'Farm: test\nBuilder: make\n\n' + QUEUE, 'opkfarm.conf:2: Builder must be builtin or command, not "make"'],
    ['Builder command without Builder-Command', 'Farm: test\n# why\nBuilder: command\n\n' + QUEUE, 'opkfarm.conf:3: Builder is command but Builder-Command is missing'],
    [
      'queue Builder command without Builder-Command',
      FARM + '\nQueue: q\nArchitectures: all\nBuilder: command\n',
      'opkfarm.conf:5: Builder is command but Builder-Command is missing',
    ],
    [
      'Builder-Command with the builtin builder',
      'Farm: test\nBuilder-Command: make\n\n' + QUEUE,
      'opkfarm.conf:2: Builder-Command is set but Builder is builtin; add "Builder: command" or remove Builder-Command',
    ],
    ['bad timeout', 'Farm: test\nBuild-Timeout: abc\n\n' + QUEUE, 'opkfarm.conf:2: Build-Timeout must be a whole number of seconds, not "abc"'],
    ['fractional timeout', 'Farm: test\nLease-Seconds: 1.5\n\n' + QUEUE, 'opkfarm.conf:2: Lease-Seconds must be a whole number of seconds, not "1.5"'],
    ['zero timeout', 'Farm: test\nRescan-Seconds: 0\n\n' + QUEUE, 'opkfarm.conf:2: Rescan-Seconds must be at least 1 second, not "0"'],
    [
      'upload wait not in seconds',
      'Farm: test\nUpload-Wait-Seconds: 1d\n\n' + QUEUE,
      'opkfarm.conf:2: Upload-Wait-Seconds must be a whole number of seconds, not "1d"',
    ],
    [
      'one health age instead of two',
      'Farm: test\nHealth-Queue-Age-Seconds: 3600\n\n' + QUEUE,
      'opkfarm.conf:2: Health-Queue-Age-Seconds must be two values, a warning and a critical threshold, such as "600 3600"; not "3600"',
    ],
    [
      'health ages in the wrong order',
      'Farm: test\nHealth-Archive-Queue-Age-Seconds: 3600 600\n\n' + QUEUE,
      'opkfarm.conf:2: Health-Archive-Queue-Age-Seconds: the warning threshold (3600) must be at most the critical one (600)',
    ],
    ['health age not in seconds', 'Farm: test\nHealth-Queue-Age-Seconds: 6h 24h\n\n' + QUEUE, 'opkfarm.conf:2: Health-Queue-Age-Seconds must be whole numbers of seconds (1 or more), not "6h"'],
    [
      'free space in the wrong order',
      'Farm: test\nHealth-Free-Space-Percent: 2 10\n\n' + QUEUE,
      'opkfarm.conf:2: Health-Free-Space-Percent: the warning threshold (2) must be at least the critical one (10)',
    ],
    ['free space over 100 %', 'Farm: test\nHealth-Free-Space-Percent: 110 5\n\n' + QUEUE, 'opkfarm.conf:2: Health-Free-Space-Percent must be percentages from 0 to 100, not "110"'],
    ['release lag of no days', 'Farm: test\nHealth-Release-Lag-Days: 0\n\n' + QUEUE, 'opkfarm.conf:2: Health-Release-Lag-Days must be at least 1'],
    ['upload wait in a queue', FARM + '\nQueue: q\nArchitectures: all\nUpload-Wait-Seconds: 60\n', 'opkfarm.conf:5: Upload-Wait-Seconds is a farm-wide key: move it to the Farm stanza'],
    [
      'timeout beyond the timers',
      FARM + '\nQueue: q\nArchitectures: all\nBuild-Timeout: 2147484\n',
      'opkfarm.conf:5: Build-Timeout must be at most 2147483 seconds (about 24 days), not "2147484"',
    ],
    ['bad queue name', FARM + '\nQueue: Arm\nArchitectures: all\n', 'opkfarm.conf:3: queue name "Arm" must match [a-z0-9][a-z0-9.+-]*'],
    ['missing Architectures', FARM + '\n# the arm queue\nQueue: arm\nPlatforms: dev\n', 'opkfarm.conf:4: missing required key "Architectures" in the stanza of queue "arm"'],
    ['bad architecture', FARM + '\nQueue: q\nArchitectures: all amd64\n', 'opkfarm.conf:4: Architectures: architecture "amd64" must be all or <cpu>-<kernel>-<libc>'],
    [
      'bad architecture component',
      FARM + '\nQueue: q\nArchitectures: AMD64-linux-glibc\n',
      'opkfarm.conf:4: Architectures: architecture "AMD64-linux-glibc" has a bad component "AMD64" (each must match [a-z0-9]+)',
    ],
    [
      'any in a queue',
      FARM + '\nQueue: q\nArchitectures: any\n',
      'opkfarm.conf:4: Architectures: "any" is a pattern; a build queue serves concrete architectures (all or <cpu>-<kernel>-<libc>)',
    ],
    [
      'wildcard in a queue',
      FARM + '\nQueue: q\nArchitectures: any-linux-glibc\n',
      'opkfarm.conf:4: Architectures: "any-linux-glibc" is a pattern; a build queue serves concrete architectures (all or <cpu>-<kernel>-<libc>)',
    ],
    [
      'src in a queue',
      FARM + '\nQueue: q\nArchitectures: src\n',
      'opkfarm.conf:4: Architectures: "src" needs no build; a build queue serves all or <cpu>-<kernel>-<libc> architectures',
    ],
    ['architecture twice in a queue', FARM + '\nQueue: q\nArchitectures: all all\n', 'opkfarm.conf:4: Architectures lists "all" twice'],
    [
      'architecture served by two queues',
      FARM + '\n' + QUEUE + '\nQueue: other\nArchitectures: i386-linux-glibc all\n',
      'opkfarm.conf:7: architecture "all" is served by both queue "amd64" and queue "other"',
    ],
    ['duplicate queue', FARM + '\n' + QUEUE + '\nQueue: amd64\nArchitectures: i386-linux-glibc\n', 'opkfarm.conf:6: queue "amd64" is defined twice (first at line 3)'],
    ['bad platform', FARM + '\nQueue: q\nArchitectures: all\nPlatforms: Dev\n', 'opkfarm.conf:5: Platforms: platform "Dev" must match [a-z0-9][a-z0-9.+-]*'],
    ['platform all', FARM + '\nQueue: q\nArchitectures: all\nPlatforms: all dev\n', 'opkfarm.conf:5: Platforms: "all" is always built; list only the other platform names'],
    ['platform any', FARM + '\nQueue: q\nArchitectures: all\nPlatforms: any\n', 'opkfarm.conf:5: Platforms: "any" is a pattern; list the platform names this queue builds'],
    ['platform twice', FARM + '\nQueue: q\nArchitectures: all\nPlatforms: dev dev\n', 'opkfarm.conf:5: Platforms lists "dev" twice'],
    ['a control syntax error', 'Farm: test\nFarm: again\n\n' + QUEUE, 'opkfarm.conf:2: duplicate field "Farm" (first at line 1)'],
  ])('refuses %s', (_name, text, message) => {
    expect(messageOf(text)).toBe(message);
  });

  it('reports the file, line and code of a bad value', () => {
    const error = formatErrorOf(() => parseConfig('Farm: test\nBuild-Timeout: abc\n\n' + QUEUE, '/etc/opkfarm.conf'));
    expect(error).toMatchObject({ code: 'control.bad-field', file: '/etc/opkfarm.conf', line: 2 });
  });
});

describe('loadConfig', () => {
  it('names a file it cannot read', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'opkfarm-config-'));
    try {
      const missing = join(directory, 'missing.conf');
      await expect(loadConfig(missing)).rejects.toThrow(new EnvironmentError(`cannot read the configuration ${missing}: ENOENT`));
      const bad = join(directory, 'bad.conf');
      await writeFile(bad, 'Farm: test\n');
      await expect(loadConfig(bad)).rejects.toThrow(`${bad}: no build queues`);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
