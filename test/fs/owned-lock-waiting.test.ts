/**
 * takeOwnedLock waits only while another process holds the lock. Any other
 * failure (a lock directory that cannot be made: ENOENT here, ENOSPC on a
 * full disk) is reported at once, naming the lock, where proper-lockfile's
 * own retries kept trying for the whole wait (found by the disk-full test:
 * accept spun for two minutes on a full ext4).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../lib/errors.js';
import { takeOwnedLock } from '../../lib/fs/owned-lock.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'opkfarm-lock-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('takeOwnedLock, waiting', () => {
  it('reports a lock that cannot be made at once, naming it, even with ten minutes to wait', { timeout: 20_000 }, async () => {
    const lockPath = join(directory, 'missing', 'x.lock');
    const failure = await takeOwnedLock(directory, { lockPath, staleMs: 10_000, waitMs: 600_000 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EnvironmentError);
    expect((failure as Error).message).toMatch(new RegExp(`^${lockPath}: cannot lock: ENOENT`));
    expect((failure as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('waits for a held lock, and gives up with ELOCKED once the wait is over', async () => {
    const lockPath = join(directory, 'x.lock');
    const release = await takeOwnedLock(directory, { lockPath, staleMs: 10_000, waitMs: 0 });
    const second = await takeOwnedLock(directory, { lockPath, staleMs: 10_000, waitMs: 100 }).catch((error: unknown) => error);
    expect((second as NodeJS.ErrnoException).code).toBe('ELOCKED');
    const waiting = takeOwnedLock(directory, { lockPath, staleMs: 10_000, waitMs: 60_000 });
    await release();
    const again = await waiting;
    await again();
  });
});
