/**
 * The processes of one build, found in /proc (Linux; elsewhere none are
 * found): those whose environment carries the build's marker, and those
 * working inside the build's directory. Every build command starts with
 * OPKFARM_BUILD=<build id> in its environment, which its descendants inherit
 * whether or not they leave its process group (setsid, double fork), so
 * killing by marker catches what killing the group misses.
 *
 * What this cannot catch without the sandbox's PID namespace: a process that
 * both clears its environment (env -i) and leaves the build's directory, or
 * one running as another user (setuid), whose /proc entries are unreadable.
 *
 * A scan reads only processes that can be the build's: those whose PID was
 * handed out after the build began (BuildStart.allocation), else those that
 * started no earlier than its first process. Every other process costs
 * nothing, or one read of its stat file.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The environment variable that marks a build's processes. */
export const BUILD_MARKER = 'OPKFARM_BUILD';

/** A build, as its processes can be recognised. */
export interface BuildMark {
  /** Unique per build (its directory's name): the marker's value. */
  readonly id: string;
  /** The build's directory: a process working inside it belongs to the build. */
  readonly directory: string;
}

/** Rounds of scan-and-kill: a process may fork between a scan and the kill, so scan until one finds nothing. */
const MAX_ROUNDS = 20;
const ROUND_PAUSE_MS = 20;
/** starttime's index among statFields' fields (field 22 of /proc/<pid>/stat, counted from pid). */
const START_TIME_FIELD = 19;

/** What tells a build's processes from those that were there before it. */
export interface BuildStart {
  /** PID allocation just before the build's first process was made (pidAllocation). */
  readonly allocation?: PidAllocation;
  /** When the build's first process started (processStartTime). */
  readonly firstStartTime?: number;
}

/** Where the kernel's handing out of PIDs stood at one moment. */
export interface PidAllocation {
  /** The last PID handed out in this PID namespace. */
  readonly lastPid: number;
  /** Processes and threads made since boot, in every namespace. */
  readonly forks: number;
}

/** The variables that mark a command as one of `mark`'s build. */
export function markerEnvironment(mark: BuildMark): Record<string, string> {
  return { [BUILD_MARKER]: mark.id };
}

/**
 * SIGKILLs every process of the build (with the process group of each, unless
 * it is ours); returns how many were found. `since`, when the build began,
 * spares the reads of processes older than it.
 */
export async function killBuildProcesses(mark: BuildMark, since: BuildStart = {}): Promise<number> {
  const directory = await realpath(mark.directory).catch(() => mark.directory);
  const ownGroup = processGroupOf(String(process.pid));
  let found = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const pids = buildProcesses(mark.id, directory, since);
    if (pids.length === 0) break;
    found += pids.length;
    for (const pid of pids) {
      const group = processGroupOf(String(pid));
      if (group !== undefined && group > 1 && group !== ownGroup) kill(-group);
      kill(pid);
    }
    await sleep(ROUND_PAUSE_MS);
  }
  return found;
}

/**
 * Live (non-zombie) processes of the build, never this one. Synchronous on
 * purpose: /proc answers from memory, and a few hundred small reads take a
 * millisecond this way but tens through the thread pool.
 */
function buildProcesses(id: string, directory: string, since: BuildStart): number[] {
  const marker = `${BUILD_MARKER}=${id}`;
  const pids: number[] = [];
  const entries = procEntries();
  // Read after the listing: every PID listed was handed out before it.
  const handedOutSince = since.allocation === undefined ? undefined : pidsHandedOutSince(since.allocation);
  const startedSince = since.firstStartTime ?? 0;
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if (handedOutSince !== undefined && !handedOutSince(Number(name))) continue;
    const fields = statFields(name);
    const state = fields?.[0];
    if (state === undefined || state === 'Z' || state === 'X') continue;
    if (Number(fields?.[START_TIME_FIELD]) < startedSince) continue;
    if (workingDirectoryIsInside(name, directory) || environmentHas(name, marker)) pids.push(Number(name));
  }
  return pids;
}

function procEntries(): string[] {
  try {
    return readdirSync('/proc');
  } catch {
    return [];
  }
}

function workingDirectoryIsInside(pid: string, directory: string): boolean {
  const cwd = readOr(() => readlinkSync(`/proc/${pid}/cwd`));
  return cwd !== undefined && (cwd === directory || cwd.startsWith(directory + sep));
}

function environmentHas(pid: string, entry: string): boolean {
  return (readOr(() => readFileSync(`/proc/${pid}/environ`, 'latin1')) ?? '').split('\0').includes(entry);
}

/**
 * Where PID allocation stands now, or undefined where that cannot be read or
 * would mislead: without /proc, or when /proc belongs to another PID
 * namespace than this process (its PIDs would not be the ones counted).
 */
export function pidAllocation(): PidAllocation | undefined {
  const now = pidsNow();
  return now === undefined ? undefined : { lastPid: now.lastPid, forks: now.forks };
}

/** PID allocation now, and how many processes and threads exist (each holds a PID); see pidAllocation. */
function pidsNow(): (PidAllocation & { readonly tasks: number }) | undefined {
  if (readOr(() => readlinkSync('/proc/self')) !== String(process.pid)) return undefined;
  // loadavg is "<1 min> <5 min> <15 min> <running>/<tasks> <last pid>"; stat has a line "processes <forks since boot>".
  const load = readOr(() => readFileSync('/proc/loadavg', 'latin1'))?.trim().split(/[ /]/) ?? [];
  const tasks = Number(load[4]);
  const lastPid = Number(load[5]);
  const forks = Number(/^processes (\d+)$/m.exec(readOr(() => readFileSync('/proc/stat', 'latin1')) ?? '')?.[1]);
  if (!Number.isInteger(tasks) || !Number.isInteger(lastPid) || !Number.isInteger(forks)) return undefined;
  return { lastPid, forks, tasks };
}

/** The PIDs handed out since `before`, up to now (pidsHandedOutBetween). */
function pidsHandedOutSince(before: PidAllocation): ((pid: number) => boolean) | undefined {
  const now = pidsNow();
  const pidMax = Number(readOr(() => readFileSync('/proc/sys/kernel/pid_max', 'latin1')));
  if (now === undefined || !Number.isInteger(pidMax)) return undefined;
  return pidsHandedOutBetween(before, now, { pidMax, tasks: now.tasks });
}

/**
 * Which PIDs can have been handed out between `before` and `now`: the kernel
 * hands them out in a cycle, one place on per process or thread made
 * (skipping those in use), wrapping at pid_max, so all of them lie after
 * before.lastPid and up to now.lastPid. Undefined when the cycle may have
 * come round since, for then any PID may be new.
 */
export function pidsHandedOutBetween(
  before: PidAllocation,
  now: PidAllocation,
  system: { readonly pidMax: number; readonly tasks: number },
): ((pid: number) => boolean) | undefined {
  // Far short of a lap: made since, plus every PID in use that the cursor could have skipped.
  if (now.forks - before.forks + system.tasks >= system.pidMax / 2) return undefined;
  const from = before.lastPid;
  const to = now.lastPid;
  return from <= to ? (pid) => pid > from && pid <= to : (pid) => pid > from || pid <= to;
}

/**
 * When the process started, in clock ticks since boot (/proc/<pid>/stat's
 * starttime), or undefined when it is gone: comparable only with other
 * processes' start times.
 */
export function processStartTime(pid: number): number | undefined {
  const ticks = Number(statFields(String(pid))?.[START_TIME_FIELD]);
  return Number.isInteger(ticks) ? ticks : undefined;
}

/** The process group of /proc/<pid>, when readable. */
function processGroupOf(pid: string): number | undefined {
  const group = Number(statFields(pid)?.[2]);
  return Number.isInteger(group) ? group : undefined;
}

/** The fields of /proc/<pid>/stat after `pid (comm)`: state, ppid, pgrp, …; the command name may hold spaces and parentheses. */
function statFields(pid: string): string[] | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The value read, or undefined when the process is gone or not ours to read. */
function readOr<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function kill(target: number): void {
  if (target === process.pid) return;
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
