/**
 * Finding a build's processes in /proc (lib/build/build-processes.ts): by the
 * marker in their environment, and only among processes that started no
 * earlier than the build's first one when that start time is given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { killBuildProcesses, markerEnvironment, processStartTime, type BuildMark } from '../../lib/build/build-processes.js';

const started: ChildProcess[] = [];
let scratch: string | undefined;

afterEach(async () => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
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
    scratch = await mkdtemp(join(tmpdir(), 'opkfarm-build-processes-'));
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
    scratch = await mkdtemp(join(tmpdir(), 'opkfarm-build-processes-'));
    const mark = { id: 'build-c', directory: scratch };
    const older = markedSleeper(mark);
    // Start times count clock ticks (10 ms): leave several between the two.
    await sleep(200);
    const newer = markedSleeper(mark);
    const since = processStartTime(newer.pid ?? 0);
    expect(since).toBeGreaterThan(processStartTime(older.pid ?? 0) ?? Infinity);

    expect(await killBuildProcesses(mark, since)).toBe(1);
    await exited(newer);
    expect(alive(older)).toBe(true);
  });

  it('has no start time for a process that is gone', () => {
    expect(processStartTime(2 ** 22 + 1)).toBeUndefined();
  });
});
