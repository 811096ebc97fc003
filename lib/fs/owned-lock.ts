/**
 * proper-lockfile's mkdir locks, with their owner written down, so that a
 * lock whose holder was killed (SIGKILL leaves the directory behind) is
 * taken over as soon as a waiter on the holder's host sees the holder is
 * dead, rather than once the lock has gone stale (10 to 30 s, found by the
 * chaos run: every killed archived stalled the archive that long).
 *
 * Beside the lock directory `<lock>` the holder writes `<lock>.owner`:
 * its host, its pid, and the directory's inode and birth time, which tell
 * this directory from a later one of the same name (inode numbers are
 * reused at once). A waiter that finds the lock held reads it; when it names
 * the current directory, this host and a dead process, the waiter sets the
 * directory's mtime to the epoch, and proper-lockfile's own stale take-over
 * (rmdir, mkdir) does the rest on the next attempt. Without a birth time
 * (some filesystems do not keep one), or on another host, or with a pid that
 * is alive (even reused), only the stale time takes a lock over, as before.
 *
 * Between the waiter's check and its utimes another waiter could take the
 * dead lock over and a new holder make a new directory; the utimes would then
 * make the new holder's lock look stale. That takes two waiters on one dead
 * lock within microseconds, and ends as any take-over of a live lock does:
 * its holder finds the lock compromised at its next refresh.
 */
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { describeError, EnvironmentError } from '../errors.js';
import { currentProcess, isProcessAlive } from '../queue/heartbeat.js';

export interface OwnedLockOptions {
  /** The lock directory. */
  readonly lockPath: string;
  /** A lock not refreshed for this long is taken over (proper-lockfile's stale). */
  readonly staleMs: number;
  /** How often the holder refreshes the lock (proper-lockfile's update; default half the stale time). */
  readonly updateMs?: number;
  /** How long to wait for another holder. */
  readonly waitMs: number;
  /** Ends the wait: rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called when the lock is lost while held; proper-lockfile throws from a timer otherwise. */
  readonly onCompromised?: (error: Error) => void;
}

/** First and longest pause between attempts to take a held lock; each pause is half as long again as the last. */
const FIRST_PAUSE_MS = 20;
const LONGEST_PAUSE_MS = 1000;

/**
 * Takes the lock of `target` (an existing path: proper-lockfile resolves it),
 * trying again after a pause while another process holds it, until `waitMs`
 * has passed (rejecting with proper-lockfile's ELOCKED error) or the signal
 * aborts. Resolves to the release function, which also forgets the owner.
 */
export async function takeOwnedLock(target: string, options: OwnedLockOptions): Promise<() => Promise<void>> {
  const deadline = Date.now() + options.waitMs;
  let pause = FIRST_PAUSE_MS;
  // Take-overs of dead owners' locks tried at once, without a pause: a few, so that one that fails never spins.
  let takeOvers = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const release = await lockfile.lock(target, {
        lockfilePath: options.lockPath,
        stale: options.staleMs,
        update: options.updateMs ?? options.staleMs / 2,
        retries: 0,
        ...(options.onCompromised === undefined ? {} : { onCompromised: options.onCompromised }),
      });
      await recordOwner(options.lockPath);
      return async () => {
        await rm(ownerPath(options.lockPath), { force: true }).catch(() => undefined);
        await release();
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Only a lock held by another is worth waiting for; any other failure (ENOSPC, a missing directory) is final.
      if (code !== 'ELOCKED') {
        throw Object.assign(new EnvironmentError(`${options.lockPath}: cannot lock: ${describeError(error)}`, { cause: error }), { code });
      }
      if (takeOvers < 3 && (await expireIfOwnerDead(options.lockPath))) {
        takeOvers += 1;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw error;
      await pauseFor(Math.min(left, pause * (0.5 + Math.random())), options.signal);
      pause = Math.min(pause * 1.5, LONGEST_PAUSE_MS);
    }
  }
}

/** Sleeps; an abort ends it with the signal's own reason. */
async function pauseFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? {} : { signal });
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}

function ownerPath(lockPath: string): string {
  return `${lockPath}.owner`;
}

/** Writes who holds the lock just taken. Not atomic on purpose: a partial file reads as no owner, which only means waiting. */
async function recordOwner(lockPath: string): Promise<void> {
  const identity = await directoryIdentity(lockPath);
  if (identity === undefined) return;
  const self = currentProcess();
  // Through a handle, as the lock itself is no file operation of the queue protocol.
  const handle = await open(ownerPath(lockPath), 'w').catch(() => undefined);
  await handle?.writeFile(`${self.host} ${self.pid} ${identity}\n`).catch(() => undefined);
  await handle?.close();
}

/** Makes the lock look stale when its owner file names it, this host and a dead process; true when it did. */
async function expireIfOwnerDead(lockPath: string): Promise<boolean> {
  const text = await readFile(ownerPath(lockPath), 'utf8').catch(() => undefined);
  const [host, pid, identity] = /^(\S+) (\d+) (\S+)\n$/.exec(text ?? '')?.slice(1) ?? [];
  if (host !== currentProcess().host || pid === undefined || isProcessAlive(Number(pid))) return false;
  if (identity === undefined || identity !== (await directoryIdentity(lockPath))) return false;
  return utimes(lockPath, 0, 0).then(
    () => true,
    () => false,
  );
}

/** `<inode>:<birth time in ns>` of a directory; undefined without a birth time or a directory. */
async function directoryIdentity(path: string): Promise<string | undefined> {
  const stats = await stat(path, { bigint: true }).catch(() => undefined);
  if (stats === undefined || stats.birthtimeNs === 0n) return undefined;
  return `${stats.ino}:${stats.birthtimeNs}`;
}
