/** withArchiveLock: exclusion, waiting, release on failure, stale take-over, a lock lost while held. */
import { mkdir, rm, stat, utimes } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

import { archiveLockPath, withArchiveLock } from '../../lib/archive/lock.js';
import { EnvironmentError } from '../../lib/errors.js';
import { queueRoot } from './fixtures.js';

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

describe('withArchiveLock', () => {
  it('runs one holder at a time; the other waits and runs after', async () => {
    const layout = await queueRoot();
    const events: string[] = [];
    const holder = (name: string) => async (): Promise<string> => {
      events.push(`${name} in`);
      await sleep(100);
      events.push(`${name} out`);
      return name;
    };
    const results = await Promise.all([withArchiveLock(layout, holder('a')), withArchiveLock(layout, holder('b'))]);
    expect(results).toEqual(['a', 'b']);
    // Exclusion, not order: whichever takes the lock first runs to its end before the other starts.
    const [first] = events[0]?.split(' ') ?? [];
    const second = first === 'a' ? 'b' : 'a';
    expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
    await expect(stat(archiveLockPath(layout))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('releases the lock when the work fails', async () => {
    const layout = await queueRoot();
    await expect(withArchiveLock(layout, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await withArchiveLock(layout, () => Promise.resolve('next'), { waitMilliseconds: 0 })).toBe('next');
  });

  it('gives up on a live holder after the wait, naming the lock', async () => {
    const layout = await queueRoot();
    await mkdir(archiveLockPath(layout));
    const error = await withArchiveLock(layout, () => Promise.resolve('never'), { waitMilliseconds: 200 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${archiveLockPath(layout)}: the archive is locked by another process and was not released within 200 ms`),
    );
  });

  it('takes over the lock of a holder that stopped refreshing it (crashed)', async () => {
    const layout = await queueRoot();
    await mkdir(archiveLockPath(layout));
    const old = new Date(Date.now() - 60_000);
    await utimes(archiveLockPath(layout), old, old);
    expect(await withArchiveLock(layout, () => Promise.resolve('ran'), { waitMilliseconds: 0 })).toBe('ran');
  });

  it('fails at once, naming the directory, on a root without state/', async () => {
    const layout = await queueRoot();
    await rm(layout.state, { recursive: true });
    // With the default ten-minute wait, a regression would hang here until the test's own timeout fails it.
    await expect(withArchiveLock(layout, () => Promise.resolve())).rejects.toThrow(
      new EnvironmentError(`${layout.state}: missing, so ${layout.root} is not a queue root (create one with opkfarm init)`),
    );
  });

  it('refuses a bad wait option', async () => {
    const layout = await queueRoot();
    await expect(withArchiveLock(layout, () => Promise.resolve(1), { waitMilliseconds: -1 })).rejects.toThrow(
      'withArchiveLock: waitMilliseconds must be a non-negative integer, got -1',
    );
  });

  it('aborts the work and rejects when the lock is lost while held', async () => {
    const layout = await queueRoot();
    let aborted = false;
    const error = await withArchiveLock(layout, async (signal) => {
      await rm(archiveLockPath(layout), { recursive: true });
      // The holder notices at its next refresh, a few seconds later.
      for (let waited = 0; waited < 15_000 && !signal.aborted; waited += 100) await sleep(100);
      aborted = signal.aborted;
      return 'finished';
    }).catch((caught: unknown) => caught);
    expect(aborted).toBe(true);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toContain(`${archiveLockPath(layout)}: the archive lock was lost while held`);
  }, 20_000);
});

describe('withArchiveLock waiting with a signal', () => {
  // Found by the chaos run: a daemon told to stop must not sit out another holder's lock.
  it('stops waiting for a live holder when the signal aborts, without running the work', async () => {
    const layout = await queueRoot();
    await mkdir(archiveLockPath(layout));
    const stop = new AbortController();
    let ran = false;
    const waiting = withArchiveLock(
      layout,
      () => {
        ran = true;
        return Promise.resolve();
      },
      { signal: stop.signal },
    );
    setTimeout(() => stop.abort(new Error('told to stop')), 200);
    await expect(waiting).rejects.toThrow(/told to stop|aborted/);
    expect(ran).toBe(false);
    // The live holder's lock is untouched.
    expect((await stat(archiveLockPath(layout))).isDirectory()).toBe(true);
  });
});
