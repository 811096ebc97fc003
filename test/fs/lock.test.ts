/**
 * lockWhenFree: waits only while another process holds the lock. Any other
 * failure (a lock directory that cannot be made: ENOENT here, ENOSPC on a
 * full disk) is reported at once, where proper-lockfile's own retries kept
 * trying for the whole wait.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../lib/errors.js';
import { lockWhenFree } from '../../lib/fs/lock.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'opkfarm-lock-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('lockWhenFree', () => {
  it('reports a lock that cannot be made at once, naming it, even with ten minutes to wait', { timeout: 20_000 }, async () => {
    const lock = join(directory, 'missing', 'x.lock');
    const failure = await lockWhenFree(directory, { lockfilePath: lock }, { waitMilliseconds: 600_000, minDelay: 50, maxDelay: 1000 }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(EnvironmentError);
    expect((failure as Error).message).toMatch(new RegExp(`^${lock}: cannot lock: ENOENT`));
    expect((failure as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('waits for a held lock, and gives up with ELOCKED once the wait is over', async () => {
    const lock = join(directory, 'x.lock');
    const release = await lockWhenFree(directory, { lockfilePath: lock }, { waitMilliseconds: 0, minDelay: 1, maxDelay: 1 });
    const second = await lockWhenFree(directory, { lockfilePath: lock }, { waitMilliseconds: 100, minDelay: 10, maxDelay: 20 }).catch(
      (error: unknown) => error,
    );
    expect((second as NodeJS.ErrnoException).code).toBe('ELOCKED');
    const waiting = lockWhenFree(directory, { lockfilePath: lock }, { waitMilliseconds: 60_000, minDelay: 10, maxDelay: 50 });
    await release();
    const again = await waiting;
    await again();
  });
});
