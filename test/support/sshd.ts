/**
 * A real OpenSSH sshd for upload tests: why it cannot run here (a reason to
 * skip with), a scratch directory where OpenSSH accepts a ChrootDirectory,
 * keys made with ssh-keygen, a free loopback port, and the daemon itself
 * (`sshd -D -e -f CONFIG`), started and stopped by the test.
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { execa, type ResultPromise } from 'execa';
import { chrootProblems } from '../../lib/upload/chroot-check.js';

export const SSHD = '/usr/sbin/sshd';
const run = promisify(execFile);

/** Why a chrooting sshd cannot run here, or undefined when it can. */
export async function sshdUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'OpenSSH chroots only as root, and these tests are not running as root';
  for (const program of [SSHD, '/usr/bin/sftp', '/usr/bin/ssh-keygen']) {
    const present = await access(program).then(
      () => true,
      () => false,
    );
    if (!present) return `${program} is missing: run scripts/install-system-deps.sh (openssh-server, openssh-client)`;
  }
  return undefined;
}

/**
 * A fresh directory whose every parent is owned by root and writable by no
 * one else, as OpenSSH requires of a ChrootDirectory and its parents (the
 * system temporary directory is writable by all, so it cannot hold one).
 */
export async function chrootableScratch(prefix: string): Promise<string> {
  for (const parent of ['/srv', '/var/lib', '/opt', homedir()]) {
    if ((await chrootProblems(parent)).length > 0) continue;
    const directory = await mkdtemp(join(parent, `opkfarm-${prefix}-`));
    await chmod(directory, 0o755);
    return directory;
  }
  throw new Error('no directory here is owned by root all the way up and writable by root alone: /srv, /var/lib, /opt and $HOME are not');
}

/** An ed25519 key pair: `path` (private) and `path.pub`; returns the public key line. */
export async function makeKey(path: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'opkfarm-test', '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface RunningSshd {
  /** What sshd logged so far (-e: on stderr). */
  log(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts `sshd -D -e -f config` and waits until it listens. */
export async function startSshd(config: string): Promise<RunningSshd> {
  // sshd's privilege separation directory; Debian's service unit makes it at boot.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child: ResultPromise = execa(SSHD, ['-D', '-e', '-f', config], { reject: false, stdin: 'ignore', stdout: 'ignore', buffer: false });
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log += chunk;
  });
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (!log.includes('Server listening on')) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not start listening:\n${log}`);
    }
    await sleep(20);
  }
  return {
    log: () => log,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([child.then(() => true), sleep(5_000).then(() => false)]);
      if (!stopped) child.kill('SIGKILL');
      await child;
    },
  };
}
