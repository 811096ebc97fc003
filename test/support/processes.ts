/**
 * What is running, read from /proc (Linux): tests use it to show that no
 * process of a build outlives it. Zombies are not running and are left out.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { sep } from 'node:path';

export interface ProcessInfo {
  readonly pid: number;
  readonly comm: string;
  /** Process group. */
  readonly pgid: number;
  /** Working directory, when readable. */
  readonly cwd: string | undefined;
}

/** Every live (non-zombie) process this user may inspect. */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const processes: ProcessInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, , pgrp] = stat.slice(close + 2).split(' ');
    if (state === 'Z' || state === 'X') continue;
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => undefined);
    processes.push({ pid: Number(name), comm, pgid: Number(pgrp), cwd });
  }
  return processes;
}

/** Live processes working inside `directory` (a build's work tree lives under the queue root). */
export async function processesWithin(directory: string): Promise<ProcessInfo[]> {
  return (await listProcesses()).filter(
    (info) => info.cwd !== undefined && (info.cwd === directory || info.cwd.startsWith(directory + sep)),
  );
}

/** Live processes whose command line contains `text` (a marker a test gave a process it started). */
export async function processesMentioning(text: string): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const info of await listProcesses()) {
    const commandLine = await readFile(`/proc/${info.pid}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.includes(text)) found.push(info);
  }
  return found;
}

/** Live members of a process group. */
export async function processGroupMembers(pgid: number): Promise<ProcessInfo[]> {
  return (await listProcesses()).filter((info) => info.pgid === pgid);
}

/** Whether a process is alive and not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

/** Sends a signal to a process group, ignoring one that is gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}

/** One line per process, for failure messages. */
export function describeProcesses(processes: readonly ProcessInfo[]): string {
  return processes.map((info) => `  pid ${info.pid} (${info.comm}) pgid ${info.pgid} cwd ${info.cwd ?? '?'}`).join('\n');
}
