/**
 * Heartbeats: each running daemon keeps `state/heartbeats/<program>@<host>@<pid>`
 * fresh. A claim made by a process on another host is a lease that lasts as
 * long as its owner's heartbeat (I8); the health check reads them too.
 */
import { hostname } from 'node:os';
import { readdir, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { writeContentAtomic } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';

/** Who holds a claim or beats a heart: a process on a host. */
export interface ProcessIdentity {
  readonly host: string;
  readonly pid: number;
}

/** This process. Host names with `@` or `/` would break claim names, so they are replaced. */
export function currentProcess(): ProcessIdentity {
  return { host: hostname().replace(/[@/\s]/g, '_') || 'localhost', pid: process.pid };
}

export function heartbeatPath(layout: QueueLayout, program: string, owner: ProcessIdentity): string {
  return join(layout.heartbeats, `${program}@${owner.host}@${owner.pid}`);
}

/** Creates or refreshes a heartbeat. */
export async function beat(layout: QueueLayout, program: string, owner: ProcessIdentity): Promise<void> {
  const path = heartbeatPath(layout, program, owner);
  const now = new Date();
  try {
    await utimes(path, now, now);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await writeContentAtomic(path, `Program: ${program}\nHost: ${owner.host}\nPid: ${owner.pid}\nStarted: ${now.toISOString()}\n`);
  }
}

/** Removes a heartbeat when its daemon stops cleanly. */
export async function stopBeating(layout: QueueLayout, program: string, owner: ProcessIdentity): Promise<void> {
  await unlink(heartbeatPath(layout, program, owner)).catch(() => undefined);
}

/** Seconds since the owner's most recent heartbeat of any program, or undefined when it has none. */
export async function heartbeatAge(layout: QueueLayout, owner: ProcessIdentity): Promise<number | undefined> {
  const suffix = `@${owner.host}@${owner.pid}`;
  let newest: number | undefined;
  for (const name of await readdir(layout.heartbeats)) {
    if (!name.endsWith(suffix)) continue;
    const mtime = (await stat(join(layout.heartbeats, name)).catch(() => undefined))?.mtimeMs;
    if (mtime !== undefined && (newest === undefined || mtime > newest)) newest = mtime;
  }
  return newest === undefined ? undefined : (Date.now() - newest) / 1000;
}

/** Whether a process of this host is alive (signal 0 probes without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
