/**
 * Uploading over SFTP with the system OpenSSH client: each step is one
 * `sftp -b -` batch (BatchMode: never a prompt), run in the directory of the
 * local file so that only plain file names appear in the batch. Every file
 * goes to `.tmp-upload-<name>` (put, or reput to resume), is flushed to disk
 * on the server (-f), made readable by all and renamed (posix-rename, which
 * replaces an older file in one step).
 */
import { basename, dirname } from 'node:path';
import { execa } from 'execa';
import { uploadTempName } from '../formats/upload-names.js';
import { SendError } from './errors.js';
import type { UploadFile } from './local-check.js';
import type { UploadTransport } from './transport.js';

export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no';

export interface SftpOptions {
  readonly host: string;
  readonly port?: number;
  readonly user?: string;
  /** A private key file (sftp -i), used alone. */
  readonly identity?: string;
  /** The farm's incoming/ as the uploader sees it (in the chroot). */
  readonly remoteDirectory: string;
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  /** More `-o KEY=VALUE` options; they come first, so they win over the defaults. */
  readonly sshOptions: readonly string[];
  /** Passed to sftp -l: a bandwidth limit in Kbit/s. */
  readonly limitKbps?: number;
}

/** Cut off a farm that stops answering instead of hanging: a minute of silence. */
const DEFAULT_SSH_OPTIONS = ['ConnectTimeout=30', 'ServerAliveInterval=15', 'ServerAliveCountMax=4'];

const HOST = /^[A-Za-z0-9_][A-Za-z0-9._:-]*$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const REMOTE_DIRECTORY = /^\/?[A-Za-z0-9_][A-Za-z0-9._+/-]*$/;
const SSH_OPTION = /^[A-Za-z][A-Za-z0-9]*=[^\n\r]*$/;

/** Why options cannot be given to sftp as they are (a value that starts with "-" would be read as an option). */
export function sftpOptionsProblem(options: SftpOptions): string | undefined {
  if (!HOST.test(options.host)) return `--host ${JSON.stringify(options.host)} is not a host name or address`;
  if (options.user !== undefined && !USER.test(options.user)) return `--user ${JSON.stringify(options.user)} is not an account name`;
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65_535)) {
    return `--port must be a port number from 1 to 65535, not ${String(options.port)}`;
  }
  if (!REMOTE_DIRECTORY.test(options.remoteDirectory) || options.remoteDirectory.split('/').includes('..')) {
    return `--remote-directory ${JSON.stringify(options.remoteDirectory)} is not a plain path`;
  }
  const bad = options.sshOptions.find((option) => !SSH_OPTION.test(option));
  if (bad !== undefined) return `--ssh-option ${JSON.stringify(bad)} is not KEY=VALUE`;
  if (options.limitKbps !== undefined && !(Number.isInteger(options.limitKbps) && options.limitKbps > 0)) {
    return `--limit must be a whole number of Kbit/s, not ${String(options.limitKbps)}`;
  }
  return undefined;
}

export class SftpTransport implements UploadTransport {
  readonly destination: string;

  constructor(private readonly options: SftpOptions) {
    const user = options.user === undefined ? '' : `${options.user}@`;
    const port = options.port === undefined ? '' : `:${options.port}`;
    const directory = options.remoteDirectory.startsWith('/') ? options.remoteDirectory : `/${options.remoteDirectory}`;
    this.destination = `sftp://${user}${options.host}${port}${directory}`;
  }

  async listSizes(): Promise<Map<string, number>> {
    const { stdout } = await this.#batch(['ls -lan'], process.cwd());
    return parseLongListing(stdout);
  }

  async send(file: UploadFile, offset: number): Promise<void> {
    const local = basename(file.path);
    const temp = uploadTempName(file.name);
    const transfer = offset === 0 ? [`put -f ${local} ${temp}`] : offset < file.size ? [`reput -f ${local} ${temp}`] : [];
    await this.#batch([...transfer, `chmod 644 ${temp}`, `rename ${temp} ${file.name}`], dirname(file.path));
  }

  async remove(name: string): Promise<void> {
    await this.#batch([`rm ${name}`], process.cwd());
  }

  /** Runs `commands` in the remote directory; throws a SendError saying what went wrong and what to do. */
  async #batch(commands: readonly string[], cwd: string): Promise<{ stdout: string }> {
    const { options } = this;
    const args = [
      '-b',
      '-',
      ...options.sshOptions.flatMap((option) => ['-o', option]),
      '-o',
      'BatchMode=yes',
      '-o',
      `StrictHostKeyChecking=${options.strictHostKeyChecking}`,
      ...DEFAULT_SSH_OPTIONS.flatMap((option) => ['-o', option]),
      ...(options.port === undefined ? [] : ['-P', String(options.port)]),
      ...(options.identity === undefined ? [] : ['-i', options.identity, '-o', 'IdentitiesOnly=yes']),
      ...(options.limitKbps === undefined ? [] : ['-l', String(options.limitKbps)]),
      '--',
      `${options.user === undefined ? '' : `${options.user}@`}${options.host}`,
    ];
    const input = `${[`cd ${options.remoteDirectory}`, ...commands].join('\n')}\n`;
    const result = await execa('sftp', args, { input, cwd, reject: false, stripFinalNewline: false });
    if (result.failed) {
      const stderr = String(result.stderr ?? '');
      const last = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '').at(-1) ?? result.shortMessage;
      const status = result.exitCode === undefined ? (result.signal ?? 'failed') : `exit ${result.exitCode}`;
      throw new SendError('send.transport', this.destination, `sftp failed (${status}): ${last}; ${hintFor(stderr, options)}`, { cause: result });
    }
    return { stdout: String(result.stdout) };
  }
}

/**
 * Sizes of the regular files in the output of `ls -ln` in an sftp batch:
 * `-rw-r--r--    ? 0  0  1234 Nov 21 15:00 name`. The batch echoes its
 * commands (`sftp> …`); those and anything else that does not read are skipped.
 */
export function parseLongListing(output: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of output.split('\n')) {
    const match = /^-\S{9}\S*\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+ (.+)$/.exec(line);
    if (match) sizes.set(match[2] as string, Number(match[1]));
  }
  return sizes;
}

/** What the user can do about a failed sftp run. */
function hintFor(stderr: string, options: SftpOptions): string {
  const port = options.port === undefined ? '' : `-p ${options.port} `;
  if (stderr.includes('Host key verification failed')) {
    return `the host key of ${options.host} is not known: check its fingerprint (ssh-keyscan ${port}${options.host}), add it to ~/.ssh/known_hosts, or pass --strict-host-key-checking accept-new`;
  }
  if (/Permission denied \(publickey/.test(stderr)) {
    return "the farm does not take your key: ask its admin to add your public key to the uploaders' authorized_keys (or pass --identity FILE)";
  }
  return 'run the same command again to resume';
}
