/**
 * PIPELINE.md step 1, accept: an upload in incoming/ becomes a master entry
 * and one hard link in each build queue that must build it.
 *
 * Refused, the upload left in incoming/ as it is and nothing kept of it:
 * an incomplete or invalid upload, a distribution the farm does not
 * accept, Architectures or Platforms no build queue serves, and a version
 * already in the pool from an upload to another distribution (which
 * archived would refuse only after the builds).
 *
 * Order of file operations, each step durable before the next:
 *   1. copy the source package into tmp/.tmp-accept-<key>.opk, hashing the
 *      copy and comparing it with the .changes (the farm owns this inode; an
 *      uploader's own link could keep the count above 1 forever);
 *      the remarks go to tmp/.tmp-accept-<key>.remarks;
 *   2. rename the .changes copy into master/<key>.changes;
 *   3. link the copy to master/<key>.opk and, under a dot name that no buildd
 *      takes, to queues/buildd/<q>/.tmp-<key>.opk for every routed queue;
 *   4. rename the marker to tmp/.tmp-publish-<key>.opk: from here on every
 *      queue link exists;
 *   5. rename each queue's dot name to <key>.opk (now buildd may take it);
 *   6. remove the upload from incoming/, tell `notify` (the accepted mail),
 *      then remove the marker.
 * The marker holds a link until the end, so builddd (which waits for link
 * count 1) never moves a half-accepted entry. `recoverAccepts` finishes or
 * undoes whatever a crash left: before step 3 it undoes, after it finishes.
 * A published queue link is never recreated, so a build that already
 * happened is never repeated; `notify` runs again after a crash before the
 * marker's removal, so the accepted mail is sent at least once.
 *
 * Accepts and recoveries take turns under the accept lock (state/accept.lock):
 * the markers do not name their owner, so without it one buildq's recovery
 * would take another buildq's accept in progress for a crashed one and undo
 * or race it. A lock whose holder died is taken over once stale, or at once
 * when the holder was a process of this host (lib/fs/owned-lock.ts).
 */
import { link, lstat, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { otherDistributionProblem } from '../archive/source-pool.js';
import { platformsToBuild, routeUpload } from '../formats/architecture.js';
import { checkUpload } from '../formats/changes-upload.js';
import { parseChanges, sourcePackageFileName, type Changes } from '../formats/changes.js';
import { ignoreMissing, pathExists } from '../fs/missing.js';
import { cannotWrite, syncDirectories, syncDirectory } from '../fs/atomic.js';
import { takeOwnedLock } from '../fs/owned-lock.js';
import { uploadKey, type QueueLayout } from '../layout.js';
import { copyVerified, holdsAcceptedContent, readUploaded, type CopiedFile } from './incoming-files.js';
import { nextSequence } from './sequence.js';
import { sourcePackageProblems } from './source-check.js';
import { UploadError } from './errors.js';
import { faultPoint } from '../fault.js';

/** What accept needs to know of the farm's configuration. */
export interface Routing {
  readonly distributions: readonly string[];
  readonly queues: readonly { readonly name: string; readonly architectures: readonly string[]; readonly platforms: readonly string[] }[];
  /** Each served architecture's queue (FarmConfig validates that no two queues serve one). */
  readonly servedArchitectures: ReadonlyMap<string, string>;
  /** Unpacked-Size-Limit: a larger source package is refused. */
  readonly unpackedLimitBytes: number;
}

export interface AcceptedUpload {
  readonly key: string;
  readonly changes: Changes;
  /** Build queues the upload was linked into. */
  readonly queues: readonly string[];
}

/** Told once an upload is in its build queues, before the accept's last step (the accepted mail). */
export type AcceptNotifier = (key: string, remarks: string) => Promise<void>;

const ACCEPT_MARKER = '.tmp-accept-';
const PUBLISH_MARKER = '.tmp-publish-';
/** The holder refreshes the lock every half of this; a lock older than this belongs to a dead holder. */
const ACCEPT_LOCK_STALE_MS = 10_000;
/** How long an accept waits for another holder of the accept lock. */
const ACCEPT_LOCK_WAIT_MS = 120_000;

/** The build queues an upload goes to, by Architecture (routeUpload) and Platform. */
export function routeChanges(changes: Changes, routing: Routing, file: string): string[] {
  const route = routeUpload(changes.architectures, routing.servedArchitectures);
  if (route.unserved.length > 0) {
    throw new UploadError('upload.unroutable', file, `no build queue serves ${route.unserved.join(', ')}`);
  }
  const queues = route.queues.filter((name) => {
    const queue = routing.queues.find((candidate) => candidate.name === name);
    return queue !== undefined && platformsToBuild(changes.platforms, queue.platforms).length > 0;
  });
  if (queues.length === 0) {
    throw new UploadError('upload.unroutable', file, `no build queue builds platform ${changes.platforms.join(', ')}`);
  }
  return queues;
}

/** Accepts the complete upload described by `changesPath` (a .changes in incoming/). */
export async function acceptUpload(
  layout: QueueLayout,
  routing: Routing,
  changesPath: string,
  remarks: string,
  notify?: AcceptNotifier,
): Promise<AcceptedUpload> {
  return withAcceptLock(layout, () => acceptLocked(layout, routing, changesPath, remarks, notify));
}

async function acceptLocked(
  layout: QueueLayout,
  routing: Routing,
  changesPath: string,
  remarks: string,
  notify: AcceptNotifier | undefined,
): Promise<AcceptedUpload> {
  const file = basename(changesPath);
  const check = await checkUpload(changesPath);
  if (check.state === 'incomplete') {
    throw new UploadError('upload.incomplete', file, `upload is incomplete, waiting for ${check.waitingFor.join(', ')}`);
  }
  if (check.state === 'invalid') {
    throw new UploadError('upload.invalid', file, `upload is invalid: ${check.reasons.join('; ')}`);
  }
  const { changes } = check;
  if (!routing.distributions.includes(changes.distribution)) {
    throw new UploadError(
      'upload.distribution',
      file,
      `distribution "${changes.distribution}" is not one this farm accepts (${routing.distributions.join(', ')})`,
    );
  }
  const queues = routeChanges(changes, routing, file);
  await refuseVersionOfOtherDistribution(layout, changes, file);
  const key = uploadKey(await nextSequence(layout), changes.source, changes.version);
  const sourceFile = changes.files.find((listed) => listed.name === sourcePackageFileName(changes.source, changes.version));
  if (!sourceFile) throw new UploadError('upload.invalid', file, 'the source package is not listed');

  // Step 1: the farm's own copies, verified against the .changes.
  const marker = join(layout.tmp, `${ACCEPT_MARKER}${key}.opk`);
  const changesCopy = join(layout.tmp, `${ACCEPT_MARKER}${key}.changes`);
  const incomingDir = dirname(changesPath);
  const copiedSource = await copyVerified(join(incomingDir, sourceFile.name), marker, sourceFile.sha256);
  faultPoint('accept.source-copied');
  // Checked in the farm's copy: exactly what buildd will unpack.
  const problems = await sourcePackageProblems(marker, sourceFile.name, changes, routing.unpackedLimitBytes);
  if (problems.length > 0) {
    await unlink(marker);
    throw new UploadError('upload.invalid', file, `upload is invalid: ${problems.join('; ')}`);
  }
  await copyVerified(changesPath, changesCopy);
  faultPoint('accept.changes-copied');
  // No remarks, no file: recovery reads a missing one as none.
  const remarksFile = join(layout.tmp, `${ACCEPT_MARKER}${key}.remarks`);
  if (remarks !== '') {
    await writeFile(remarksFile, remarks, { flush: true }).catch((error: unknown) => {
      throw cannotWrite(remarksFile, error);
    });
  }
  faultPoint('accept.remarks-written');
  await syncDirectory(layout.tmp);

  // Step 2.
  await rename(changesCopy, layout.masterChanges(key));
  faultPoint('accept.changes-renamed');
  const copied = new Map([[sourceFile.name, copiedSource]]);
  await publish(layout, key, queues, marker, { incomingDir, incomingChanges: changesPath, copied, remarks, notify });
  return { key, changes, queues };
}

/**
 * Refuses an upload whose version is in the pool from an upload to another
 * distribution, which archived would refuse only after building it. archived
 * keeps its own check: two such uploads may both be accepted before either
 * is included.
 */
async function refuseVersionOfOtherDistribution(layout: QueueLayout, changes: Changes, file: string): Promise<void> {
  const problem = await otherDistributionProblem(layout, changes.source, changes.version, changes.distribution);
  if (problem !== undefined) throw new UploadError('upload.other-distribution', file, problem);
}

/** Steps 3 to 6, also used by recovery: idempotent from any point. */
interface PublishContext {
  readonly incomingDir: string;
  /** The upload's .changes in incoming/, when known (recovery finds it by content). */
  readonly incomingChanges?: string;
  /** Files of incoming/ as this accept copied them, by name (recovery knows none: it compares content). */
  readonly copied?: ReadonlyMap<string, CopiedFile>;
  readonly remarks: string;
  readonly notify?: AcceptNotifier;
}

async function publish(layout: QueueLayout, key: string, queues: readonly string[], marker: string, context: PublishContext): Promise<void> {
  let publishMarker = marker;
  if (basename(marker).startsWith(ACCEPT_MARKER)) {
    await linkOnce(marker, layout.masterEntry(key));
    faultPoint('accept.master-linked');
    for (const queue of queues) {
      await linkOnce(marker, hiddenQueueEntry(layout, queue, key));
      faultPoint('accept.queue-linked');
    }
    await syncDirectories([layout.master, ...queues.map((queue) => layout.buildQueue(queue))]);
    publishMarker = join(layout.tmp, `${PUBLISH_MARKER}${key}.opk`);
    await rename(marker, publishMarker);
    faultPoint('accept.publish-marked');
    await syncDirectory(layout.tmp);
  }
  // Step 5: only dot names still present are unpublished; a published entry may already be built and gone.
  for (const queue of queues) {
    await rename(hiddenQueueEntry(layout, queue, key), layout.buildQueueEntry(queue, key)).catch(ignoreMissing);
    faultPoint('accept.queue-published');
  }
  await syncDirectories(queues.map((queue) => layout.buildQueue(queue)));
  // Step 6. The marker's removal is not synced: lost to a power cut, recovery
  // would only send the accepted mail again (the next accept syncs tmp/ anyway).
  await removeAcceptedUpload(layout, key, context);
  await context.notify?.(key, context.remarks);
  faultPoint('accept.mailed');
  await unlink(join(layout.tmp, `${ACCEPT_MARKER}${key}.remarks`)).catch(ignoreMissing);
  faultPoint('accept.remarks-removed');
  await unlink(publishMarker);
  faultPoint('accept.marker-removed');
}

/**
 * Removes from incoming/ the files of the accepted upload, the .changes last,
 * but only files that still hold the accepted content: an uploader may have
 * started a new upload under the same names.
 */
async function removeAcceptedUpload(layout: QueueLayout, key: string, context: PublishContext): Promise<void> {
  const { incomingDir, incomingChanges } = context;
  const changesText = await readFile(layout.masterChanges(key), 'utf8');
  const changes = parseChanges(changesText, layout.masterChanges(key));
  for (const listed of changes.files) {
    const path = join(incomingDir, listed.name);
    if (await holdsAcceptedContent(path, listed.sha256, context.copied?.get(listed.name))) await unlink(path).catch(ignoreMissing);
    faultPoint('accept.incoming-removed');
  }
  const candidates = incomingChanges
    ? [incomingChanges]
    : (await readdir(incomingDir)).filter((name) => name.endsWith('.changes')).map((name) => join(incomingDir, name));
  for (const candidate of candidates) {
    if ((await readUploaded(candidate)) === changesText) await unlink(candidate).catch(ignoreMissing);
    faultPoint('accept.incoming-removed');
  }
  await syncDirectory(incomingDir);
}

/**
 * Finishes or undoes every accept a crash interrupted (I5), telling `notify`
 * of each one it finishes. Returns the keys finished.
 */
export async function recoverAccepts(
  layout: QueueLayout,
  routing: Routing,
  notify?: AcceptNotifier,
): Promise<Array<{ key: string; remarks: string }>> {
  return withAcceptLock(layout, () => recoverLocked(layout, routing, notify));
}

async function recoverLocked(
  layout: QueueLayout,
  routing: Routing,
  notify: AcceptNotifier | undefined,
): Promise<Array<{ key: string; remarks: string }>> {
  const finished: Array<{ key: string; remarks: string }> = [];
  for (const name of (await readdir(layout.tmp)).sort()) {
    const match = /^\.tmp-(accept|publish)-(.+)\.opk$/.exec(name);
    if (!match) continue;
    const [, stage, key = ''] = match;
    const marker = join(layout.tmp, name);
    const remarksFile = join(layout.tmp, `${ACCEPT_MARKER}${key}.remarks`);
    const masterChangesExists = await pathExists(layout.masterChanges(key));
    if (stage === 'accept' && !(await pathExists(layout.masterEntry(key)))) {
      // Crashed before step 3 finished its first link: nothing is visible yet, so undo.
      for (const path of [marker, remarksFile, join(layout.tmp, `${ACCEPT_MARKER}${key}.changes`), layout.masterChanges(key)]) {
        await unlink(path).catch(ignoreMissing);
      }
      continue;
    }
    if (!masterChangesExists) throw new Error(`${marker}: accept left no ${layout.masterChanges(key)}; cannot recover`);
    const changes = parseChanges(await readFile(layout.masterChanges(key), 'utf8'), layout.masterChanges(key));
    const remarks = await readFile(remarksFile, 'utf8').catch(() => '');
    const queues = routeChanges(changes, routing, layout.masterChanges(key));
    await publish(layout, key, queues, marker, { incomingDir: layout.incoming, remarks, notify });
    finished.push({ key, remarks });
  }
  return finished;
}

/**
 * Runs `work` holding the accept lock, waiting (about two minutes at most)
 * for another holder. It is keyed on tmp/, where the markers it guards live:
 * proper-lockfile tracks its locks by that path within a process, and
 * nextSequence, called while this lock is held, keys its own on state/.
 */
export async function withAcceptLock<T>(layout: QueueLayout, work: () => Promise<T>): Promise<T> {
  const release = await takeOwnedLock(layout.tmp, {
    lockPath: join(layout.state, 'accept.lock'),
    staleMs: ACCEPT_LOCK_STALE_MS,
    waitMs: ACCEPT_LOCK_WAIT_MS,
  });
  try {
    return await work();
  } finally {
    await release();
  }
}

function hiddenQueueEntry(layout: QueueLayout, queue: string, key: string): string {
  return join(layout.buildQueue(queue), `.tmp-${key}.opk`);
}

/** link(2) that accepts an existing link to the same inode (a retried step). */
async function linkOnce(existing: string, newPath: string): Promise<void> {
  try {
    await link(existing, newPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const [a, b] = await Promise.all([lstat(existing), lstat(newPath)]);
    if (a.ino !== b.ino || a.dev !== b.dev) throw new Error(`${newPath} exists and is not a link to ${existing}`);
  }
}

