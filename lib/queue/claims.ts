/**
 * PIPELINE.md step 2, the queue side of a build: taking the oldest entry of a
 * build queue as a claim, and giving it back or popping it.
 *
 * A claim is a rename of queues/buildd/<q>/<key>.opk to
 * queues/buildd/<q>/claims/<key>.opk@<host>@<pid>: atomic, so two buildd
 * processes (on one host or several sharing the root) never take the same
 * entry, and link-count neutral, so the master entry still counts the queue
 * (I2). Claims are leases (I8): a claim whose owner is gone returns to the
 * queue, where it keeps its place because order is by key (I6).
 */
import { readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { currentProcess, heartbeatAge, isProcessAlive, type ProcessIdentity } from './heartbeat.js';
import { faultPoint } from '../fault.js';

export interface Claim {
  readonly queue: string;
  readonly key: string;
  /** The claimed entry: a hard link to the master entry. */
  readonly path: string;
  readonly owner: ProcessIdentity;
}

const ENTRY = /^(.+)\.opk$/;
const CLAIM = /^(.+)\.opk@([^@/]+)@(\d+)$/;

/** The upload key of a queue entry's name (`<key>.opk`, in a build queue or master/), or undefined for any other name. */
export function entryKeyOf(name: string): string | undefined {
  const key = ENTRY.exec(name)?.[1];
  return key !== undefined && parseUploadKey(key) ? key : undefined;
}

/** Keys waiting in a build queue, oldest first. Dot names (half-published accepts) are not entries yet. */
export async function pendingKeys(layout: QueueLayout, queue: string): Promise<string[]> {
  const keys: string[] = [];
  for (const name of await readdir(layout.buildQueue(queue))) {
    const key = entryKeyOf(name);
    if (key !== undefined) keys.push(key);
  }
  return keys.sort();
}

/** Claims one entry; undefined when another process took it first. */
export async function claimEntry(
  layout: QueueLayout,
  queue: string,
  key: string,
  owner: ProcessIdentity = currentProcess(),
): Promise<Claim | undefined> {
  const path = join(layout.claims(queue), `${key}.opk@${owner.host}@${owner.pid}`);
  try {
    await rename(layout.buildQueueEntry(queue, key), path);
    faultPoint('buildd.claimed');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return { queue, key, path, owner };
}

/** Pops a finished claim (its outputs and result are durable already, I3). */
export async function finishClaim(layout: QueueLayout, claim: Claim): Promise<void> {
  await unlink(claim.path);
  faultPoint('buildd.popped');
  await syncDirectory(layout.claims(claim.queue));
}

/** Gives a claim back to its queue, unbuilt (SIGTERM, or an owner found gone). */
export async function returnClaim(layout: QueueLayout, claim: Claim): Promise<void> {
  await rename(claim.path, layout.buildQueueEntry(claim.queue, claim.key));
  await syncDirectory(layout.buildQueue(claim.queue));
}

/** Every claim in a queue, whoever holds it. */
export async function listClaims(layout: QueueLayout, queue: string): Promise<Claim[]> {
  const claims: Claim[] = [];
  for (const name of (await readdir(layout.claims(queue))).sort()) {
    const match = CLAIM.exec(name);
    if (!match) continue;
    const [, key = '', host = '', pid = '0'] = match;
    claims.push({ queue, key, path: join(layout.claims(queue), name), owner: { host, pid: Number(pid) } });
  }
  return claims;
}

/**
 * Whether a claim's owner is gone: on this host, its process is dead (or is
 * us, at start-up, which means a previous process with our pid); on another
 * host, its heartbeat is older than the lease or missing.
 */
export async function isClaimStale(
  layout: QueueLayout,
  claim: Claim,
  self: ProcessIdentity,
  leaseSeconds: number,
  ownClaims: ReadonlySet<string> = new Set(),
): Promise<boolean> {
  if (claim.owner.host === self.host) {
    if (claim.owner.pid === self.pid) return !ownClaims.has(claim.path);
    if (!isProcessAlive(claim.owner.pid)) return true;
  }
  const age = await heartbeatAge(layout, claim.owner);
  return age === undefined ? claim.owner.host !== self.host : age > leaseSeconds;
}

/** Returns every stale claim of a queue to it; the claims returned are listed. */
export async function recoverStaleClaims(
  layout: QueueLayout,
  queue: string,
  leaseSeconds: number,
  self: ProcessIdentity = currentProcess(),
  ownClaims: ReadonlySet<string> = new Set(),
): Promise<Claim[]> {
  const returned: Claim[] = [];
  for (const claim of await listClaims(layout, queue)) {
    if (!(await isClaimStale(layout, claim, self, leaseSeconds, ownClaims))) continue;
    try {
      await returnClaim(layout, claim);
      returned.push(claim);
    } catch (error) {
      // Another process returned it first.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return returned;
}
