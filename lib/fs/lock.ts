/**
 * Taking a proper-lockfile lock, waiting only while another process holds
 * it. proper-lockfile's own retries follow every error: a lock directory
 * that cannot be made (ENOSPC on a full disk, a missing parent) was retried
 * for the whole wait, minutes, before being reported. Here any error but
 * ELOCKED is thrown at once, and ELOCKED once `waitMilliseconds` have passed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile, { type LockOptions } from 'proper-lockfile';
import { describeError, EnvironmentError } from '../errors.js';

export interface LockWait {
  /** How long to wait for another holder, in milliseconds. */
  readonly waitMilliseconds: number;
  /** First pause between attempts; it grows by half each time, up to `maxDelay`. */
  readonly minDelay: number;
  readonly maxDelay: number;
}

/**
 * lockfile.lock(file, options), retried while the lock is held elsewhere;
 * resolves to the release function. Any other failure is an EnvironmentError
 * naming the lock (its errno code kept); a lock still held at the deadline is
 * proper-lockfile's ELOCKED error.
 */
export async function lockWhenFree(file: string, options: Omit<LockOptions, 'retries'>, wait: LockWait): Promise<() => Promise<void>> {
  const deadline = Date.now() + wait.waitMilliseconds;
  let delay = wait.minDelay;
  for (;;) {
    try {
      return await lockfile.lock(file, { ...options, retries: 0 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ELOCKED') {
        const lock = options.lockfilePath ?? `${file}.lock`;
        throw Object.assign(new EnvironmentError(`${lock}: cannot lock: ${describeError(error)}`, { cause: error }), { code });
      }
      if (Date.now() >= deadline) throw error;
    }
    // Randomised, so that waiting processes do not retry in step.
    await sleep(delay * (0.5 + Math.random()));
    delay = Math.min(wait.maxDelay, delay * 1.5);
  }
}
