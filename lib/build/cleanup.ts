/**
 * Work directories of builds whose buildd is gone. Every build works in
 * tmp/.tmp-build-<key>-<pair>@<host>@<pid>-XXXXXX (and unpacks the source in
 * tmp/.tmp-unpack-<key>@<host>@<pid>-XXXXXX); on start a buildd removes those
 * of dead processes of its own host (another host's pids mean nothing here),
 * so a killed build leaves nothing behind.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
    await rm(join(layout.tmp, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
