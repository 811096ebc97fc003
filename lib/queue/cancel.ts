/**
 * `buildq cancel`: takes an accepted upload out of the build queues before
 * it is built, keeping it under rejected/<key>/ with the remarks.
 *
 * Order, so that no daemon ever acts on a half-cancelled upload:
 *   1. claim every queue entry of the upload (the rename buildd uses): once
 *      claimed, no buildd takes it; if a buildd holds one already, the
 *      entries taken go back and the cancel is refused (the build runs on);
 *   2. move master/<key>.opk and .changes into rejected/<key>/ with REMARKS:
 *      the claims still hold the inode, so builddd never sees link count 1;
 *   3. unlink the claims; move whatever finished builds left in
 *      archive-queue/<key>/ (no source package there, so archived never
 *      includes it) to rejected/<key>/builds/.
 * Killed after 1, the claims are a dead process's and go back to their
 * queues: nothing is cancelled, and cancelling again works. Killed after 2,
 * cancelling again finishes 3: it removes the queue entries and dead claims
 * of the upload kept in rejected/ (a buildd that took one back in between
 * makes it wait for that build). Runs under the accept lock (accept.ts), so
 * an accept or its recovery never races it.
 */
import { mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { versionForFileName } from '../formats/version.js';
import { ignoreMissing, pathExists } from '../fs/missing.js';
import { syncDirectory, writeContentAtomic } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { withAcceptLock } from './accept.js';
import { claimEntry, listClaims, returnClaim, type Claim } from './claims.js';
import { UploadError } from './errors.js';
import { currentProcess, isProcessAlive } from './heartbeat.js';

export interface CancelledUpload {
  readonly key: string;
  /** Where the upload is kept: rejected/<key>/. */
  readonly directory: string;
  /** Queues it was taken out of. */
  readonly queues: readonly string[];
  /** Builds that had finished, moved to rejected/<key>/builds/ (file names). */
  readonly finishedBuilds: readonly string[];
}

/** Cancels the queued upload `source` `version`; see the file comment. */
export async function cancelUpload(
  layout: QueueLayout,
  queues: readonly string[],
  source: string,
  version: string,
  remarks: string,
): Promise<CancelledUpload> {
  return withAcceptLock(layout, () => cancelLocked(layout, queues, source, version, remarks));
}

async function cancelLocked(layout: QueueLayout, queues: readonly string[], source: string, version: string, remarks: string): Promise<CancelledUpload> {
  const subject = `${source} ${version}`;
  const key = await findQueuedKey(layout, queues, source, versionForFileName(version), subject);
  const self = currentProcess();
  const directory = layout.rejectedEntry(key);

  if (await pathExists(layout.masterEntry(key))) {
    // 1. Claim every entry; give them back if a buildd holds one.
    const taken: Claim[] = [];
    for (const queue of queues) {
      const holder = (await listClaims(layout, queue)).find((claim) => claim.key === key);
      if (holder !== undefined) {
        for (const claim of taken) await returnClaim(layout, claim);
        throw new UploadError(
          'upload.being-built',
          subject,
          `being built by ${holder.owner.host}@${holder.owner.pid} in queue ${queue}; cancel it when that build ends`,
        );
      }
      const claim = await claimEntry(layout, queue, key, self);
      if (claim !== undefined) taken.push(claim);
    }
    // 2. Out of master/, into rejected/ with the remarks.
    await mkdir(directory, { recursive: true });
    await writeContentAtomic(join(directory, 'REMARKS'), `Cancelled after acceptance.\n\n${remarks.trimEnd()}\n`);
    await rename(layout.masterChanges(key), join(directory, `${key}.changes`)).catch(ignoreMissing);
    await rename(layout.masterEntry(key), join(directory, `${key}.opk`));
    await syncDirectory(directory);
    await syncDirectory(layout.master);
    // 3. The claims go; nothing holds the upload in a queue any more.
    for (const claim of taken) await unlink(claim.path);
    for (const queue of new Set(taken.map((claim) => claim.queue))) await syncDirectory(layout.claims(queue));
    return { key, directory, queues: taken.map((claim) => claim.queue), finishedBuilds: await moveFinishedBuilds(layout, key, directory) };
  }
  // A cancel killed after step 2: finish it.
  const cleared: string[] = [];
  for (const queue of queues) {
    if (await unlink(layout.buildQueueEntry(queue, key)).then(() => true, () => false)) cleared.push(queue);
    for (const claim of await listClaims(layout, queue)) {
      if (claim.key !== key) continue;
      if (claim.owner.host === self.host && claim.owner.pid !== self.pid && isProcessAlive(claim.owner.pid)) {
        throw new UploadError('upload.being-built', subject, `half cancelled, and a buildd (${claim.owner.pid}) is building it in queue ${queue}; run cancel again when it ends`);
      }
      await unlink(claim.path);
      cleared.push(queue);
    }
  }
  return { key, directory, queues: [...new Set(cleared)], finishedBuilds: await moveFinishedBuilds(layout, key, directory) };
}

/** The key of the upload in master/ (or half-cancelled in rejected/ with its source package). */
async function findQueuedKey(layout: QueueLayout, queues: readonly string[], source: string, version: string, subject: string): Promise<string> {
  const matches = (name: string) => {
    const parsed = parseUploadKey(name.replace(/\.opk$/, ''));
    return parsed !== undefined && name.endsWith('.opk') && parsed.source === source && parsed.version === version;
  };
  const queued = (await readdir(layout.master)).filter(matches).sort();
  if (queued.length > 1) throw new UploadError('upload.ambiguous', subject, `accepted ${queued.length} times and still queued: ${queued.join(', ')}`);
  if (queued.length === 1) return (queued[0] as string).replace(/\.opk$/, '');
  for (const name of (await readdir(layout.rejected)).sort().reverse()) {
    if (matches(`${name}.opk`) && (await pathExists(join(layout.rejectedEntry(name), `${name}.opk`))) && (await hasRemnants(layout, queues, name))) {
      return name;
    }
  }
  const built = (await readdir(layout.archiveQueue)).filter((name) => matches(`${name}.opk`));
  const where = built.length > 0 ? `it is built and waits in archive-queue/${built[0] as string}/` : 'no accepted upload of that version is in master/';
  throw new UploadError('upload.not-queued', subject, `not in the build queues: ${where}`);
}

/** Whether a queue entry, a claim or finished builds of `key` are left. */
async function hasRemnants(layout: QueueLayout, queues: readonly string[], key: string): Promise<boolean> {
  if (await pathExists(layout.archiveQueueEntry(key))) return true;
  for (const queue of queues) {
    if (await pathExists(layout.buildQueueEntry(queue, key))) return true;
    if ((await listClaims(layout, queue)).some((claim) => claim.key === key)) return true;
  }
  return false;
}

/** Moves archive-queue/<key>/ (outputs of builds that had finished) to rejected/<key>/builds/. */
async function moveFinishedBuilds(layout: QueueLayout, key: string, directory: string): Promise<string[]> {
  const entry = layout.archiveQueueEntry(key);
  if (!(await pathExists(entry))) return [];
  const names = (await readdir(entry)).sort();
  await rename(entry, join(directory, 'builds'));
  await syncDirectory(directory);
  await syncDirectory(layout.archiveQueue);
  return names;
}
