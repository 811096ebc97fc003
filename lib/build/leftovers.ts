/**
 * What dead processes left in a queue root, for `opkfarm clean`: the work and
 * unpack directories of buildd processes that are gone, their stray build
 * logs, `.tmp-` files nobody is writing any more, and claims whose owner is
 * gone. Nothing a live process owns is listed:
 *
 * - a name with `@<host>@<pid>` belongs to that process: on this host it is
 *   gone when the pid is dead; on another host (a shared root), when its
 *   heartbeat is missing or older than the lease, the rule claims follow (I8);
 * - a `.tmp-` name without an owner is an atomic write's or archived's; it is
 *   taken for a dead process's when it has not changed for a lease, since
 *   such a write takes milliseconds (lib/mail/spool.ts removes its own so);
 * - buildq's half-done accepts (tmp/.tmp-accept-*, tmp/.tmp-publish-*,
 *   queues/buildd/<q>/.tmp-<key>.opk) are never leftovers: they hold queue
 *   links, and the next buildq run finishes them (queues-layout/README.md).
 *
 * Removing a work directory first kills what still runs of its build; a
 * stale claim is not deleted but returned to its queue, as buildd would.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TEMP_PREFIX } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { isClaimStale, listClaims, returnClaim, type Claim } from '../queue/claims.js';
import { heartbeatAge, isProcessAlive, type ProcessIdentity } from '../queue/heartbeat.js';
import { parseWorkDirectoryName, removeWorkDirectory } from './cleanup.js';
import { directoryBytes } from './limits.js';

export type LeftoverKind = 'work-directory' | 'unpack-directory' | 'build-log' | 'temporary' | 'stale-claim';

export interface Leftover {
  readonly kind: LeftoverKind;
  /** Absolute path. */
  readonly path: string;
  /** Bytes of the file, or of every file under the directory. */
  readonly bytes: number;
  /** The process that left it, when its name says. */
  readonly owner?: ProcessIdentity;
  /** The claim, for a stale claim. */
  readonly claim?: Claim;
}

export interface LeftoverScan {
  readonly layout: QueueLayout;
  /** The scanning process: its host decides which pids can be checked. */
  readonly self: ProcessIdentity;
  /** Lease-Seconds: how long another host's heartbeat, and an ownerless temporary file, stay valid. */
  readonly leaseSeconds: number;
  readonly now?: Date;
}

/** A stray log of a build that could not start (build-claim.ts: refuseUnbuildable). */
const BUILD_LOG = /^\.tmp-build-.*@([^@/]+)@(\d+)-unusable\.log$/;
/** buildq's accept markers in tmp/: kept for the next buildq run to finish. */
const ACCEPT_MARKERS = /^\.tmp-(?:accept|publish)-/;

/** Every leftover under the root, sorted by path. */
export async function findLeftovers(scan: LeftoverScan): Promise<Leftover[]> {
  const leftovers: Leftover[] = [];
  await walkTemporaries(scan.layout.root, async (path, isDirectory) => {
    const leftover = await judgeTemporary(scan, path, isDirectory);
    if (leftover !== undefined) leftovers.push(leftover);
  });
  leftovers.push(...(await staleClaims(scan)));
  return leftovers.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Removes one leftover (or returns a stale claim to its queue); one already gone is no error. */
export async function removeLeftover(layout: QueueLayout, leftover: Leftover): Promise<void> {
  switch (leftover.kind) {
    case 'work-directory':
    case 'unpack-directory':
      return removeWorkDirectory(leftover.path, basename(leftover.path));
    case 'build-log':
    case 'temporary':
      return rm(leftover.path, { recursive: true, force: true });
    case 'stale-claim':
      if (leftover.claim === undefined) return;
      return returnClaim(layout, leftover.claim).catch((error: unknown) => {
        // Returned by a buildd in the meantime.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
  }
}

/** Calls `visit` for every `.tmp-` name under `directory`, not looking inside them. */
async function walkTemporaries(directory: string, visit: (path: string, isDirectory: boolean) => Promise<void>): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.name.startsWith(TEMP_PREFIX)) await visit(path, entry.isDirectory());
    else if (entry.isDirectory()) await walkTemporaries(path, visit);
  }
}

async function judgeTemporary(scan: LeftoverScan, path: string, isDirectory: boolean): Promise<Leftover | undefined> {
  const { layout } = scan;
  const name = basename(path);
  const inTmp = join(layout.tmp, name) === path;
  if (inTmp && ACCEPT_MARKERS.test(name)) return undefined;
  // queues/buildd/<q>/.tmp-<key>.opk: a queue link buildq has yet to publish.
  if (dirname(dirname(path)) === layout.buildQueues) return undefined;

  const work = inTmp && isDirectory ? parseWorkDirectoryName(name) : undefined;
  if (work !== undefined) {
    if (!(await isOwnerGone(scan, work.owner))) return undefined;
    return { kind: work.kind === 'build' ? 'work-directory' : 'unpack-directory', path, bytes: await directoryBytes(path), owner: work.owner };
  }
  const log = inTmp ? BUILD_LOG.exec(name) : null;
  if (log) {
    const owner = { host: log[1] ?? '', pid: Number(log[2]) };
    if (!(await isOwnerGone(scan, owner))) return undefined;
    return { kind: 'build-log', path, bytes: await sizeOf(path, false), owner };
  }
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) return undefined;
  const age = ((scan.now ?? new Date()).getTime() - stats.mtimeMs) / 1000;
  if (age <= scan.leaseSeconds) return undefined;
  return { kind: 'temporary', path, bytes: await sizeOf(path, isDirectory) };
}

async function staleClaims(scan: LeftoverScan): Promise<Leftover[]> {
  const { layout } = scan;
  const leftovers: Leftover[] = [];
  for (const entry of await readdir(layout.buildQueues, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory() || entry.name.startsWith(TEMP_PREFIX)) continue;
    const claims = await listClaims(layout, entry.name).catch(() => [] as Claim[]);
    for (const claim of claims) {
      if (!(await isClaimStale(layout, claim, scan.self, scan.leaseSeconds))) continue;
      leftovers.push({ kind: 'stale-claim', path: claim.path, bytes: await sizeOf(claim.path, false), owner: claim.owner, claim });
    }
  }
  return leftovers;
}

/** Whether the process named in a leftover's name is gone (see the file comment). */
async function isOwnerGone(scan: LeftoverScan, owner: ProcessIdentity): Promise<boolean> {
  if (owner.host === scan.self.host) return owner.pid === scan.self.pid || !isProcessAlive(owner.pid);
  const age = await heartbeatAge(scan.layout, owner);
  return age === undefined || age > scan.leaseSeconds;
}

async function sizeOf(path: string, isDirectory: boolean): Promise<number> {
  if (isDirectory) return directoryBytes(path);
  return (await lstat(path).catch(() => undefined))?.size ?? 0;
}
