/**
 * Work directories of builds whose buildd is gone. Every build works in
 * tmp/.tmp-build-<key>-<pair>@<host>@<pid>-XXXXXX (and unpacks the source in
 * tmp/.tmp-unpack-<key>@<host>@<pid>-XXXXXX); on start a buildd removes those
 * of dead processes of its own host (another host's pids mean nothing here),
 * so a killed build leaves nothing behind.
 *
 * That includes processes: a builder runs in a process group of its own
 * (run-logged.ts), which a buildd killed with SIGKILL cannot take down with
 * it. Every process of a build starts inside its work directory, so before
 * the directory goes, each process group with a member working inside it is
 * killed (read from /proc; where there is no /proc, nothing is killed).
 */
import { readFile, readdir, readlink, realpath, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { QueueLayout } from '../layout.js';

const WORK_DIRECTORY = /^\.tmp-(?:build|unpack)-.*@([^@]+)@(\d+)-[A-Za-z0-9]{6}$/;

/** Removes the work directories of processes `isAlive` says are dead; returns their names. */
export async function removeAbandonedWorkDirectories(
  layout: QueueLayout,
  host: string,
  isAlive: (pid: number) => boolean,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(layout.tmp)) {
    const [, owner, pid] = WORK_DIRECTORY.exec(name) ?? [];
    if (owner !== host || pid === undefined || isAlive(Number(pid))) continue;
    await killProcessesWithin(join(layout.tmp, name));
    await rm(join(layout.tmp, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** SIGKILLs every process group (or, in our own group, the process) with a member whose working directory is inside `directory`. */
async function killProcessesWithin(directory: string): Promise<void> {
  const inside = await realpath(directory).catch(() => undefined);
  if (inside === undefined) return;
  const processes = await readdir('/proc').catch(() => [] as string[]);
  const ownGroup = await processGroupOf('self');
  for (const name of processes) {
    if (!/^\d+$/.test(name)) continue;
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => undefined);
    if (cwd === undefined || (cwd !== inside && !cwd.startsWith(inside + sep))) continue;
    const group = await processGroupOf(name);
    signal(group !== undefined && group > 1 && group !== ownGroup ? -group : Number(name));
  }
}

/** The process group of /proc/<pid>, when readable. */
async function processGroupOf(pid: string): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // pid (comm) state ppid pgrp …: the command name may hold spaces and parentheses.
  const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  return Number.isInteger(group) ? group : undefined;
}

function signal(target: number): void {
  if (target === process.pid) return;
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
