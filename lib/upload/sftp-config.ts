/**
 * What an admin needs to serve a queue root's uploads/incoming/ with the
 * system OpenSSH: the setup of the tree and of the upload account (as
 * comments), and either a `Match User` block for the existing sshd or a whole
 * sshd_config for an sshd of its own.
 *
 * The account may do SFTP and nothing else: ForceCommand internal-sftp, a
 * ChrootDirectory (queues-layout/README.md, "Uploads", says why the chroot is
 * uploads/ and not incoming/ itself), key authentication only, no forwarding
 * of any kind, no TTY, no ~/.ssh/rc. internal-sftp itself refuses the
 * requests an upload never needs and a hostile uploader could use against
 * the farm: symbolic and hard links, directories, and the legacy rename,
 * which OpenSSH implements with a hard link; posix-rename stays, for the
 * uploader's temporary names.
 */
import { isAbsolute, normalize } from 'node:path';

export interface SftpConfigOptions {
  /** The queue root (absolute). */
  readonly root: string;
  /** The account uploaders log in as. */
  readonly user: string;
  /** The account the farm's programs run as: it owns incoming/. */
  readonly farmUser: string;
  /** The file of uploaders' public keys (absolute); sshd reads it at every login. */
  readonly authorizedKeys: string;
  /** Present for a whole sshd_config of a dedicated sshd, absent for a Match block. */
  readonly dedicated?: DedicatedSshd;
}

export interface DedicatedSshd {
  readonly port: number;
  /** The host's private key file (absolute). */
  readonly hostKey: string;
  readonly pidFile: string;
  /** Addresses to listen on; all when empty. */
  readonly listen: readonly string[];
}

/** Options as a command line gives them, validated by `sftpConfigOptions`. */
export interface RawSftpConfigOptions {
  readonly root: string;
  readonly user: string;
  readonly farmUser: string;
  readonly authorizedKeys: string;
  readonly dedicated: boolean;
  readonly port?: number;
  readonly hostKey?: string;
  readonly pidFile: string;
  readonly listen: readonly string[];
}

/** A problem with one option, named as the user gave it. */
export class SftpConfigOptionError extends Error {
  override readonly name = 'SftpConfigOptionError';
}

/** The upload directory as the uploader sees it, inside the chroot. */
export const CHROOT_INCOMING = '/incoming';

/** internal-sftp requests an upload never needs (sftp-server -Q requests lists them all). */
const DENIED_REQUESTS = ['symlink', 'hardlink', 'mkdir', 'rmdir', 'rename', 'lsetstat'] as const;

const ACCOUNT = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Checks command-line values once, naming the option and the value at fault. */
export function sftpConfigOptions(raw: RawSftpConfigOptions): SftpConfigOptions {
  const root = configPath('--root', raw.root);
  for (const [option, value] of [
    ['--user', raw.user],
    ['--farm-user', raw.farmUser],
  ] as const) {
    if (!ACCOUNT.test(value)) throw new SftpConfigOptionError(`${option} ${JSON.stringify(value)} is not an account name ([a-z_][a-z0-9_-]*, 32 characters at most)`);
  }
  const authorizedKeys = configPath('--authorized-keys', raw.authorizedKeys);
  const common = { root, user: raw.user, farmUser: raw.farmUser, authorizedKeys };
  if (!raw.dedicated) {
    for (const [option, given] of [
      ['--port', raw.port !== undefined],
      ['--host-key', raw.hostKey !== undefined],
      ['--listen', raw.listen.length > 0],
    ] as const) {
      if (given) throw new SftpConfigOptionError(`${option} is for a dedicated sshd: add --dedicated, or leave it out for a Match block`);
    }
    return common;
  }
  const port = raw.port;
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new SftpConfigOptionError(`--dedicated needs --port N, a port number from 1 to 65535${port === undefined ? '' : `, not ${String(port)}`}`);
  }
  if (raw.hostKey === undefined) throw new SftpConfigOptionError('--dedicated needs --host-key FILE, the private host key (ssh-keygen -t ed25519 -N "" -f FILE makes one)');
  for (const address of raw.listen) {
    if (!isConfigWord(address)) throw new SftpConfigOptionError(`--listen ${JSON.stringify(address)} is not an address`);
  }
  return {
    ...common,
    dedicated: { port, hostKey: configPath('--host-key', raw.hostKey), pidFile: configPath('--pid-file', raw.pidFile), listen: [...raw.listen] },
  };
}

/** The whole text: setup notes as comments, then the Match block or the sshd_config. */
export function sftpConfigText(options: SftpConfigOptions): string {
  const lines = [...setupNotes(options), ''];
  if (options.dedicated) lines.push(...dedicatedConfig(options, options.dedicated));
  else lines.push(...matchBlock(options));
  return `${lines.join('\n')}\n`;
}

/** The ForceCommand: SFTP only, starting in incoming/, files readable by the farm, the requests above refused. */
export function forceCommand(): string {
  return `internal-sftp -d ${CHROOT_INCOMING} -u 0022 -P ${DENIED_REQUESTS.join(',')}`;
}

function setupNotes(options: SftpConfigOptions): string[] {
  const { root, user, farmUser, authorizedKeys } = options;
  const uploads = `${root}/uploads`;
  return [
    `# opkfarm uploads over SFTP for the queue root ${root} (made by opkfarm sftp-config).`,
    '#',
    `# Uploaders log in as "${user}" with their key, are confined to ${uploads}`,
    `# and may only use SFTP there, starting in ${CHROOT_INCOMING} (${uploads}/incoming).`,
    '#',
    '# Once, as root:',
    `#   adduser --system --group --home /nonexistent --no-create-home --shell /usr/sbin/nologin ${user}`,
    `#   usermod -p '*' ${user}        # key logins only; a locked ("!") account cannot log in at all`,
    `#   chown root:root ${root} ${uploads} && chmod 0755 ${root} ${uploads}`,
    `#   chown ${farmUser}:${user} ${uploads}/incoming && chmod 0770 ${uploads}/incoming`,
    '# OpenSSH refuses a ChrootDirectory that, or any parent of which, is not owned by root or is',
    '# writable by its group or others; uploads land in incoming/ below it, which the farm owns and',
    `# the group ${user} may write. Run \`opkfarm init\` as root from now on: it writes ${root}/opkfarm.conf.`,
    '#',
    `# Add an uploader's key with one line in ${authorizedKeys} (owned by root, mode 0644);`,
    '# "restrict" turns off forwarding, the TTY and ~/.ssh/rc for that key as well:',
    `#   echo 'restrict ssh-ed25519 AAAAC3Nza... jane@example.org' >> ${authorizedKeys}`,
    '# Delete the line to revoke the key. sshd reads the file at every login: no reload needed.',
    '# Uploaders then run: opkfarm upload --host <this host> FILE.changes',
    '#',
    ...(options.dedicated
      ? [
          `# Make the host key once: ssh-keygen -t ed25519 -N '' -f ${options.dedicated.hostKey}`,
          '# Install this file (e.g. as /etc/opkfarm/sshd_config), check it with `sshd -t -f FILE`,',
          '# and run `/usr/sbin/sshd -D -f FILE` as a service of its own.',
        ]
      : [
          '# Append the Match block below to /etc/ssh/sshd_config (Match blocks must come last),',
          '# check it with `sshd -t`, then reload sshd.',
        ]),
    '# internal-sftp logs (add -l INFO to ForceCommand) only if the chroot holds a /dev/log socket.',
  ];
}

/** Settings of the upload account, valid both globally and in a Match block. */
function accountSettings(options: SftpConfigOptions, indent: string): string[] {
  const settings: Array<[string, string]> = [
    ['ChrootDirectory', `${options.root}/uploads`],
    ['ForceCommand', forceCommand()],
    ['AuthorizedKeysFile', options.authorizedKeys],
    ['AuthenticationMethods', 'publickey'],
    ['PubkeyAuthentication', 'yes'],
    ['PasswordAuthentication', 'no'],
    ['KbdInteractiveAuthentication', 'no'],
    ['HostbasedAuthentication', 'no'],
    ['PermitEmptyPasswords', 'no'],
    // Root may upload only in tests; even then never with a password.
    ['PermitRootLogin', options.user === 'root' ? 'prohibit-password' : 'no'],
    ['DisableForwarding', 'yes'],
    ['AllowTcpForwarding', 'no'],
    ['AllowStreamLocalForwarding', 'no'],
    ['AllowAgentForwarding', 'no'],
    ['X11Forwarding', 'no'],
    ['PermitTunnel', 'no'],
    ['PermitListen', 'none'],
    ['PermitOpen', 'none'],
    ['GatewayPorts', 'no'],
    ['PermitTTY', 'no'],
    ['PermitUserRC', 'no'],
  ];
  return settings.map(([key, value]) => `${indent}${key} ${value}`);
}

function matchBlock(options: SftpConfigOptions): string[] {
  return [`Match User ${options.user}`, ...accountSettings(options, '\t')];
}

function dedicatedConfig(options: SftpConfigOptions, sshd: DedicatedSshd): string[] {
  return [
    `Port ${sshd.port}`,
    ...sshd.listen.map((address) => `ListenAddress ${address}`),
    `HostKey ${sshd.hostKey}`,
    `PidFile ${sshd.pidFile}`,
    `AllowUsers ${options.user}`,
    'UsePAM no',
    'PermitUserEnvironment no',
    'PrintMotd no',
    // Logs the fingerprint of the key each uploader logged in with.
    'LogLevel VERBOSE',
    'ClientAliveInterval 60',
    'ClientAliveCountMax 3',
    // sftp clients ask for this subsystem; ForceCommand decides what runs.
    'Subsystem sftp internal-sftp',
    ...accountSettings(options, ''),
  ];
}

/** An absolute, normalised path that can stand unquoted in sshd_config. */
function configPath(option: string, value: string): string {
  if (!isAbsolute(value)) throw new SftpConfigOptionError(`${option} ${JSON.stringify(value)} must be an absolute path`);
  if (!isConfigWord(value)) {
    throw new SftpConfigOptionError(`${option} ${JSON.stringify(value)} holds a space, quote, "#", backslash or control character, which sshd_config cannot take unquoted`);
  }
  const normal = normalize(value);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** Whether a value can stand unquoted in sshd_config: visible ASCII without quotes, "#" or backslash. */
function isConfigWord(value: string): boolean {
  return value !== '' && [...value].every((character) => character > ' ' && character < '\x7f' && !`"'#\\`.includes(character));
}
