/**
 * Work directories of builds whose buildd is gone. Every build works in
 * tmp/.tmp-build-<key>-<pair>@<host>@<pid>-XXXXXX (and unpacks the source in
 * tmp/.tmp-unpack-<key>@<host>@<pid>-XXXXXX); on start a buildd removes those
 * of dead processes of its own host (another host's pids mean nothing here),
 * so a killed build leaves nothing behind.
 *
 * That includes processes: without the sandbox's PID namespace, a builder
 * runs in a process group of its own (run-logged.ts), which a buildd killed
 * with SIGKILL cannot take down with it. So before a directory goes, every
 * process of its build is killed: those carrying its marker and those
 * working inside it (build-processes.ts).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueLayout } from '../layout.js';
import type { ProcessIdentity } from '../queue/heartbeat.js';
import { killBuildProcesses } from './build-processes.js';

const WORK_DIRECTORY = /^\.tmp-(build|unpack)-.*@([^@/]+)@(\d+)-[A-Za-z0-9]{6}$/;

/** A build or unpack directory in tmp/, and the buildd that made it. */
export interface WorkDirectoryName {
  readonly kind: 'build' | 'unpack';
  readonly owner: ProcessIdentity;
}

/** The owner of a work directory name in tmp/, or undefined for another name. */
export function parseWorkDirectoryName(name: string): WorkDirectoryName | undefined {
  const match = WORK_DIRECTORY.exec(name);
  if (!match) return undefined;
  const [, kind, host = '', pid = '0'] = match;
  return { kind: kind === 'build' ? 'build' : 'unpack', owner: { host, pid: Number(pid) } };
}

/** Kills what still runs of a work directory's build, then removes the directory. */
export async function removeWorkDirectory(path: string, name: string): Promise<void> {
  await killBuildProcesses({ id: name, directory: path });
  await rm(path, { recursive: true, force: true });
}

/** Removes the work directories of processes `isAlive` says are dead; returns their names. */
export async function removeAbandonedWorkDirectories(
  layout: QueueLayout,
  host: string,
  isAlive: (pid: number) => boolean,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(layout.tmp)) {
    const owner = parseWorkDirectoryName(name)?.owner;
    if (owner === undefined || owner.host !== host || isAlive(owner.pid)) continue;
    await removeWorkDirectory(join(layout.tmp, name), name);
    removed.push(name);
  }
  return removed;
}
