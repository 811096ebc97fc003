/**
 * takeOwnedLock (lib/fs/owned-lock.ts): the lock of a holder killed with
 * SIGKILL on this host is taken over at once, not after the stale time
 * (found by the chaos run: each killed archived stalled the archive 30 s);
 * a live holder's lock, and a lock directory the owner file does not
 * describe, are not.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { takeOwnedLock } from '../../lib/fs/owned-lock.js';
import { currentProcess } from '../../lib/queue/heartbeat.js';
import { waitFor } from '../support/wait.js';

const OWNED_LOCK = new URL('../../dist/lib/fs/owned-lock.js', import.meta.url).href;
const STALE_MS = 60_000;

let directory: string;
let lockPath: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'opkfarm-owned-lock-'));
  lockPath = join(directory, 'state.lock');
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** A process that takes the lock and then sleeps; resolves once it holds it, with its pid. */
async function holderProcess(): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `import { takeOwnedLock } from ${JSON.stringify(OWNED_LOCK)};
await takeOwnedLock(${JSON.stringify(directory)}, { lockPath: ${JSON.stringify(lockPath)}, staleMs: ${STALE_MS}, waitMs: 0 });
console.log('held');
setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => (String(chunk).includes('held') ? resolve() : undefined));
    child.on('close', () => reject(new Error('the holder exited before taking the lock')));
  });
  return {
    pid: child.pid as number,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('takeOwnedLock', () => {
  it('takes over at once the lock of a holder of this host killed with SIGKILL', async () => {
    const holder = await holderProcess();
    expect(await readFile(`${lockPath}.owner`, 'utf8')).toMatch(new RegExp(`^${currentProcess().host} ${holder.pid} \\d+:\\d+\\n$`));
    await holder.kill();
    expect((await stat(lockPath)).isDirectory()).toBe(true);
    // No wait at all: the stale time (a minute) has not passed, only the owner is known dead.
    const release = await takeOwnedLock(directory, { lockPath, staleMs: STALE_MS, waitMs: 0 });
    expect(await readFile(`${lockPath}.owner`, 'utf8')).toMatch(new RegExp(`^${currentProcess().host} ${process.pid} `));
    await release();
    await expect(stat(lockPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(`${lockPath}.owner`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('waits for a live holder and gives up after the wait', async () => {
    const holder = await holderProcess();
    try {
      await expect(takeOwnedLock(directory, { lockPath, staleMs: STALE_MS, waitMs: 200 })).rejects.toMatchObject({ code: 'ELOCKED' });
    } finally {
      await holder.kill();
    }
  });

  it('leaves alone a lock directory its owner file does not describe (a later holder of the same name)', async () => {
    const holder = await holderProcess();
    await holder.kill();
    // The dead holder's lock went (say, taken over after the stale time) and another was made in its place:
    // the owner file still names the dead process, but not this directory.
    await rmdir(lockPath);
    await waitFor('a new directory with another birth time', async () => {
      await mkdir(lockPath);
      return true;
    });
    await expect(takeOwnedLock(directory, { lockPath, staleMs: STALE_MS, waitMs: 200 })).rejects.toMatchObject({ code: 'ELOCKED' });
  });

  it('stops waiting when the signal aborts', async () => {
    await mkdir(lockPath);
    await writeFile(`${lockPath}.owner`, 'not an owner\n');
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('told to stop')), 100);
    await expect(takeOwnedLock(directory, { lockPath, staleMs: STALE_MS, waitMs: 60_000, signal: stop.signal })).rejects.toThrow('told to stop');
  });
});
