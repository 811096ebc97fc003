/**
 * The archive lock: one writer at a time in `archive/` (pool, feeds, logs),
 * so two inclusions that touch one feed never lose each other's stanza.
 *
 * It is proper-lockfile's mkdir lock on `state/archive.lock` (state/, not
 * archive/, so mirrors never copy it). The holder refreshes its mtime every
 * few seconds; a lock not refreshed for ARCHIVE_LOCK_STALE_MS belongs to a
 * holder that crashed or hangs and is taken over, so a killed holder never
 * blocks the archive for long; on the holder's own host, as soon as it is
 * seen dead (lib/fs/owned-lock.ts). mkdir and utimes are atomic on NFS, so hosts
 * sharing one queue root exclude each other too.
 *
 * If the lock is compromised while held (the holder stalled past the stale
 * time and someone took it over), the signal given to the work aborts, and
 * withArchiveLock rejects even when the work finished: its writes may have
 * raced another holder's and must be redone (they are idempotent).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, EnvironmentError } from '../errors.js';
import { takeOwnedLock } from '../fs/owned-lock.js';
import type { QueueLayout } from '../layout.js';

/** A lock whose mtime is older than this is taken over. */
export const ARCHIVE_LOCK_STALE_MS = 30_000;
/** How often the holder refreshes the lock's mtime. */
const UPDATE_MS = 5_000;
/** How long to wait for another holder by default. */
const DEFAULT_WAIT_MS = 10 * 60_000;

export interface ArchiveLockOptions {
  /** How long to wait for another holder before giving up, in milliseconds (default 10 minutes). */
  readonly waitMilliseconds?: number;
  /** Ends the wait for another holder (a daemon told to stop): rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The lock directory proper-lockfile creates while the archive is held. */
export function archiveLockPath(layout: QueueLayout): string {
  return join(layout.state, 'archive.lock');
}

/** Runs `work` holding the archive lock, waiting for another holder; releases the lock however `work` ends. */
export async function withArchiveLock<T>(
  layout: QueueLayout,
  work: (signal: AbortSignal) => Promise<T>,
  options: ArchiveLockOptions = {},
): Promise<T> {
  const wait = options.waitMilliseconds ?? DEFAULT_WAIT_MS;
  if (!(Number.isSafeInteger(wait) && wait >= 0)) {
    throw new RangeError(`withArchiveLock: waitMilliseconds must be a non-negative integer, got ${String(wait)}`);
  }
  const lockPath = archiveLockPath(layout);
  // Without state/ the lock's mkdir would fail with a bare ENOENT: say what is wrong instead.
  const state = await stat(layout.state).catch(() => undefined);
  if (!state?.isDirectory()) {
    throw new EnvironmentError(`${layout.state}: missing, so ${layout.root} is not a queue root (create one with opkfarm init)`);
  }
  const controller = new AbortController();
  // An object, not a variable: the callback assigns it, and TypeScript does not see that across awaits.
  const lost: { error?: Error } = {};
  const onCompromised = (error: Error) => {
    lost.error = new EnvironmentError(`${lockPath}: the archive lock was lost while held (${describeError(error)}); run the step again`, {
      cause: error,
    });
    controller.abort(lost.error);
  };
  const release = await acquire(layout, lockPath, wait, onCompromised, options.signal);
  let result: T;
  try {
    result = await work(controller.signal);
  } finally {
    // A lock left behind by a failed release goes stale and is taken over; the work's outcome matters more.
    if (lost.error === undefined) await release().catch(() => undefined);
  }
  if (lost.error !== undefined) throw lost.error;
  return result;
}

/** Takes the lock (owned-lock.ts: a dead holder's is taken over at once), in the archive's own words when it cannot. */
async function acquire(
  layout: QueueLayout,
  lockPath: string,
  wait: number,
  onCompromised: (error: Error) => void,
  signal: AbortSignal | undefined,
): Promise<() => Promise<void>> {
  try {
    return await takeOwnedLock(layout.archive, {
      lockPath,
      staleMs: ARCHIVE_LOCK_STALE_MS,
      updateMs: UPDATE_MS,
      waitMs: wait,
      onCompromised,
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new EnvironmentError(
        `${lockPath}: the archive is locked by another process and was not released within ${wait} ms; ` +
          `try again later (a lock not refreshed for ${ARCHIVE_LOCK_STALE_MS / 1000} s is taken over)`,
        { cause: error },
      );
    }
    // takeOwnedLock names the lock and the cause already (ENOSPC, a missing directory).
    if (error instanceof EnvironmentError) throw error;
    throw new EnvironmentError(`${lockPath}: cannot lock the archive: ${describeError(error)}`, { cause: error });
  }
}
