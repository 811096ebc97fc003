/**
 * Finding a build's processes in /proc (lib/build/build-processes.ts): by the
 * marker in their environment, and only among processes whose PID was handed
 * out after the build began, or that started no earlier than its first one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  killBuildProcesses,
  markerEnvironment,
  pidAllocation,
  pidsHandedOutBetween,
  processStartTime,
  type BuildMark,
} from '../../lib/build/build-processes.js';

const started: ChildProcess[] = [];
/** The build directory of each test's marks, made fresh per test. */
let scratch: string;

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'opkfarm-build-processes-'));
});

afterEach(async () => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
  await rm(scratch, { recursive: true, force: true });
});

/** A detached process carrying `mark`'s marker, sleeping until killed. */
function markedSleeper(mark: BuildMark): ChildProcess {
  const child = spawn('sleep', ['1000'], { env: { ...process.env, ...markerEnvironment(mark) }, detached: true, stdio: 'ignore' });
  started.push(child);
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function exited(child: ChildProcess): Promise<void> {
  if (!alive(child)) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

describe('killBuildProcesses', () => {
  it('kills every process carrying the marker, and only those', async () => {
    const mark = { id: 'build-a', directory: scratch };
    const ours = markedSleeper(mark);
    const other = markedSleeper({ id: 'build-b', directory: scratch + '-elsewhere' });
    await sleep(100);

    expect(await killBuildProcesses(mark)).toBe(1);
    await exited(ours);
    expect(ours.signalCode).toBe('SIGKILL');
    expect(alive(other)).toBe(true);
  });

  it('with a start time, spares marked processes that started before it', async () => {
    const mark = { id: 'build-c', directory: scratch };
    const older = markedSleeper(mark);
    // Start times count clock ticks (10 ms): leave several between the two.
    await sleep(200);
    const newer = markedSleeper(mark);
    const since = processStartTime(newer.pid ?? 0);
    expect(since).toBeGreaterThan(processStartTime(older.pid ?? 0) ?? Infinity);

    expect(await killBuildProcesses(mark, { firstStartTime: since })).toBe(1);
    await exited(newer);
    expect(alive(older)).toBe(true);
  });

  it('with the PID allocation before the build, spares marked processes made before it', async () => {
    const mark = { id: 'build-d', directory: scratch };
    const older = markedSleeper(mark);
    await sleep(50);
    const allocation = pidAllocation();
    expect(allocation).toBeDefined();
    const newer = markedSleeper(mark);
    await sleep(100);

    expect(await killBuildProcesses(mark, { allocation })).toBe(1);
    await exited(newer);
    expect(newer.signalCode).toBe('SIGKILL');
    expect(alive(older)).toBe(true);
  });

  it('has no start time for a process that is gone', () => {
    expect(processStartTime(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('pidsHandedOutBetween', () => {
  const system = { pidMax: 32768, tasks: 200 };

  it('is the PIDs after the first allocation and up to the second', () => {
    const isNew = pidsHandedOutBetween({ lastPid: 1000, forks: 50 }, { lastPid: 1010, forks: 62 }, system);
    expect([1000, 1001, 1010, 1011, 12].map((pid) => isNew?.(pid))).toEqual([false, true, true, false, false]);
  });

  it('wraps at pid_max', () => {
    const isNew = pidsHandedOutBetween({ lastPid: 32700, forks: 50 }, { lastPid: 320, forks: 400 }, system);
    expect([32700, 32701, 32767, 300, 320, 321, 16000].map((pid) => isNew?.(pid))).toEqual([false, true, true, true, true, false, false]);
  });

  it('is nothing when no PID was handed out', () => {
    const isNew = pidsHandedOutBetween({ lastPid: 1000, forks: 50 }, { lastPid: 1000, forks: 50 }, system);
    expect([999, 1000, 1001].map((pid) => isNew?.(pid))).toEqual([false, false, false]);
  });

  it('gives up when so many were made that the cycle may have come round', () => {
    expect(pidsHandedOutBetween({ lastPid: 1000, forks: 50 }, { lastPid: 1200, forks: 50 + 16_400 }, system)).toBeUndefined();
  });
});
