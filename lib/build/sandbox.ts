/**
 * The build sandbox: bubblewrap (bwrap) around every process of a build.
 *
 * Inside, the build sees the file system read-only, with private, empty
 * /tmp, /var/tmp, /run, /home and /root (no sockets of host services, no
 * home directories; each a tmpfs capped at the build's output limit where
 * bwrap can cap it), the queue root hidden but for the paths the build is
 * given, and the secrets it must not read replaced by empty files. It may
 * write only to its own work and output directories. It has no network (a
 * network namespace with only a loopback that is down), no capabilities, its
 * own IPC and host name, and, where the kernel allows it, its own PID
 * namespace: when the build's first process ends, or bwrap is killed, or
 * buildd dies (--die-with-parent), every process of the build dies with it,
 * including those that called setsid or forked twice.
 *
 * `probeBubblewrap` finds out once, at buildd's start, whether bwrap can make
 * these namespaces here; `resolveSandbox` turns the configured mode
 * (Builder-Sandbox) and that answer into the sandbox to use or the reason
 * there is none.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { execa } from 'execa';
import type { FarmConfig, SandboxMode } from '../config.js';
import type { QueueLayout } from '../layout.js';

/** bwrap as this host can run it. */
export interface Bubblewrap {
  readonly program: string;
  /** Whether it can give a build its own PID namespace (so nothing of the build outlives it). */
  readonly pidNamespace: boolean;
  /** Whether it can cap the size of a tmpfs (`--size`, bubblewrap 0.8 and later). */
  readonly sizedTmpfs?: boolean;
}

export type BubblewrapProbe =
  | { readonly usable: true; readonly bwrap: Bubblewrap }
  | { readonly usable: false; readonly reason: string };

/** How builds are confined: bwrap, and what to hide from every build besides the defaults. */
export interface Sandbox {
  readonly bwrap: Bubblewrap;
  /** Directories (hidden behind an empty tmpfs) and files (replaced by an empty one) builds must not see. */
  readonly hidden: readonly string[];
}

/** What one command of a build may see and touch, besides the read-only system. */
export interface SandboxView {
  /** Shown read-only even where a hidden directory covers them. */
  readonly readable: readonly string[];
  /** The only places the build may write. */
  readonly writable: readonly string[];
  /** The size of each private /tmp-like directory (memory, as a tmpfs), where bwrap can cap it. */
  readonly privateBytes?: number;
}

/** Directories that hold no part of "the system" a build needs, but sockets and private files: always empty inside. */
const PRIVATE_DIRECTORIES = ['/tmp', '/var/tmp', '/run', '/home', '/root'];

const NAMESPACES = ['--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];

/** Whether bwrap runs here and can make the sandbox's namespaces; the reason when not. */
export async function probeBubblewrap(program = 'bwrap'): Promise<BubblewrapProbe> {
  const attempt = (pidNamespace: boolean) =>
    execa(program, [...baseArguments({ program, pidNamespace }), '--', 'true'], { reject: false, stdin: 'ignore', timeout: 10_000 });
  const full = await attempt(true);
  if (full.exitCode === 0) return { usable: true, bwrap: { program, pidNamespace: true, sizedTmpfs: await canSizeTmpfs(program) } };
  if ('code' in full && full.code === 'ENOENT') {
    return { usable: false, reason: `${program} is not installed (Debian package bubblewrap)` };
  }
  // Some containers refuse a PID namespace (mounting a new /proc) but allow the others.
  const withoutPid = await attempt(false);
  if (withoutPid.exitCode === 0) return { usable: true, bwrap: { program, pidNamespace: false, sizedTmpfs: await canSizeTmpfs(program) } };
  const said = String(full.stderr).trim().split('\n')[0] || `exit status ${String(full.exitCode)}`;
  return { usable: false, reason: `${program} cannot create namespaces here: ${said}` };
}

/** Whether this bwrap takes `--size` for a tmpfs (older ones refuse the option). */
async function canSizeTmpfs(program: string): Promise<boolean> {
  const args = [...baseArguments({ program, pidNamespace: false }), '--size', '1048576', '--tmpfs', '/tmp', '--', 'true'];
  const sized = await execa(program, args, { reject: false, stdin: 'ignore', timeout: 10_000 });
  return sized.exitCode === 0;
}

/** The sandbox builds run in, or why there is none (and whether the configuration demands one: buildd must not start). */
export type SandboxChoice =
  | { readonly sandbox: Sandbox; readonly note?: string }
  | { readonly sandbox: undefined; readonly reason: string; readonly required: boolean };

/**
 * The sandbox a queue's builds run in, from its Builder-Sandbox mode and the
 * probe: `none` never, `bwrap` always (none, `required`, when bwrap is
 * unusable), `auto` when bwrap is usable.
 */
export function resolveSandbox(mode: SandboxMode, probe: BubblewrapProbe, hidden: readonly string[]): SandboxChoice {
  if (mode === 'none') return { sandbox: undefined, reason: 'Builder-Sandbox is none', required: false };
  if (!probe.usable) return { sandbox: undefined, reason: probe.reason, required: mode === 'bwrap' };
  const sandbox = { bwrap: probe.bwrap, hidden };
  return probe.bwrap.pidNamespace
    ? { sandbox }
    : { sandbox, note: 'no PID namespace: processes a build detaches are found by its marker instead' };
}

/**
 * What no build may see: the queue root (the configuration, uploads, other
 * builds; a build is shown only its own paths in it) and the secret files the
 * configuration names, which buildd itself must read to send mail.
 */
export function hiddenFromBuilds(layout: QueueLayout, config: FarmConfig): string[] {
  const hidden = [layout.root];
  if (config.mail.transport === 'smtp' && config.mail.smtp.login !== undefined) hidden.push(config.mail.smtp.login.passwordFile);
  return hidden;
}

/** The program and arguments that run `command args…` in `cwd` inside the sandbox. */
export function sandboxedCommand(
  sandbox: Sandbox,
  view: SandboxView,
  command: string,
  args: readonly string[],
  cwd: string,
): { command: string; args: string[] } {
  const hide: string[] = [];
  const covers: string[] = [];
  for (const path of sandbox.hidden) {
    // Only what the read-only view shows needs covering; a tmpfs over a path that does not exist cannot be mounted.
    if (!existsSync(path) || PRIVATE_DIRECTORIES.some((directory) => isInside(path, directory))) continue;
    if (isDirectory(path)) {
      hide.push('--tmpfs', path);
      covers.push(path);
    } else hide.push('--ro-bind', '/dev/null', path);
  }
  const bwrapArgs = [
    ...baseArguments(sandbox.bwrap),
    ...PRIVATE_DIRECTORIES.filter((directory) => existsSync(directory)).flatMap((directory) => [...privateSize(sandbox, view), '--tmpfs', directory]),
    ...hide,
    // Shown again inside what was hidden: readable first, so a writable path inside a readable one stays writable.
    ...view.readable.flatMap((path) => ['--ro-bind', path, path]),
    ...view.writable.flatMap((path) => ['--bind', path, path]),
    // The tmpfs over a hidden directory is read-only once the paths inside are in place: no hiding place to write to.
    ...covers.flatMap((path) => ['--remount-ro', path]),
    '--chdir',
    cwd,
    '--',
    command,
    ...args,
  ];
  return { command: sandbox.bwrap.program, args: bwrapArgs };
}

/** `--size` for a private directory's tmpfs: kernel memory a build could otherwise fill without bound. */
function privateSize(sandbox: Sandbox, view: SandboxView): string[] {
  return sandbox.bwrap.sizedTmpfs === true && view.privateBytes !== undefined ? ['--size', String(view.privateBytes)] : [];
}

/** The namespaces, the read-only root, /dev and /proc: what every sandboxed command (and the probe) gets. */
function baseArguments(bwrap: Bubblewrap): string[] {
  return [
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    ...(bwrap.pidNamespace ? ['--unshare-pid', '--proc', '/proc'] : ['--ro-bind', '/proc', '/proc']),
    ...NAMESPACES,
    // Run as root, bwrap would keep every capability: enough to remount the read-only view.
    '--cap-drop',
    'ALL',
    // No controlling terminal to push input into (TIOCSTI).
    '--new-session',
    '--die-with-parent',
  ];
}

function isInside(path: string, directory: string): boolean {
  const rest = relative(directory, path);
  return rest === '' || (!rest.startsWith('..') && !isAbsolute(rest));
}

/** Synchronous: called once per build command, on a few local paths. */
function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
