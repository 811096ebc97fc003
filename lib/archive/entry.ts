/**
 * Archive-queue entries (queues-layout/README.md, "An archive-queue entry"):
 * which are complete, and what one holds.
 *
 *   archive-queue/<key>/<arch>_<plat>.result   one per build
 *   archive-queue/<key>/<arch>_<plat>.log      the build log
 *   archive-queue/<key>/<binary>.opk           outputs of successful builds
 *   archive-queue/<key>/<key>.changes          moved in by builddd
 *   archive-queue/<key>/<key>.opk              the source package, always last (I4)
 *
 * Reading only. An entry is complete when `<key>.opk` is present; until then
 * builds may still be adding files, and nothing here treats it as ready.
 */
import { lstat, opendir, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { entryKeyOf } from '../queue/claims.js';
import { InclusionError } from './errors.js';
import { inArchive, logDirectory } from './paths.js';

/** What one complete entry holds. */
export interface EntryFiles {
  readonly key: string;
  readonly directory: string;
  /** `<key>.opk`. */
  readonly sourcePackage: string;
  /** `<key>.changes`. */
  readonly changes: string;
  /** Every file name in the entry except temporaries, sorted. */
  readonly names: readonly string[];
  /**
   * Result files by build (`<arch>_<plat>`), as absolute paths: in the entry,
   * or in the logs directory when an earlier, interrupted run stored them
   * there and they are gone from the entry.
   */
  readonly results: ReadonlyMap<string, string>;
  /** Build logs still in the entry, by build. */
  readonly logs: ReadonlyMap<string, string>;
}

const RESULT = /^(.+)\.result$/;
const LOG = /^(.+)\.log$/;

/** Keys of archive-queue entries whose source package is present, oldest (first accepted) first. */
export async function pendingArchiveEntries(layout: QueueLayout): Promise<string[]> {
  const names = await readdir(layout.archiveQueue).catch(ignoreMissing([] as string[]));
  const keys: string[] = [];
  for (const name of names.sort()) {
    if (!parseUploadKey(name)) continue;
    if (await isFile(join(layout.archiveQueue, name, `${name}.opk`))) keys.push(name);
  }
  return keys;
}

/**
 * Whether uploads are on their way to the archive queue: accepted (their
 * source package is in master/) but not yet complete there. Reads master/
 * only up to its first such entry.
 */
async function uploadsOnTheirWay(layout: QueueLayout): Promise<boolean> {
  const master = await opendir(layout.master).catch(ignoreMissing(undefined));
  if (master === undefined) return false;
  // Leaving the loop early closes the directory.
  for await (const entry of master) {
    if (entryKeyOf(entry.name) !== undefined) return true;
  }
  return false;
}

/** How often waitForUploadsOnTheirWay looks at master/ again. */
const ON_THEIR_WAY_POLL_MS = 25;

/**
 * Waits up to `milliseconds` while uploads are on their way (uploadsOnTheirWay),
 * returning as soon as none is: true when it waited at all, false when none
 * was on its way to begin with. Rejects when `signal` aborts.
 */
export async function waitForUploadsOnTheirWay(layout: QueueLayout, milliseconds: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + milliseconds;
  let waited = false;
  while (Date.now() < deadline && (await uploadsOnTheirWay(layout))) {
    await sleep(Math.min(ON_THEIR_WAY_POLL_MS, deadline - Date.now()), undefined, { signal });
    waited = true;
  }
  return waited;
}

/** Lists a complete entry; throws InclusionError 'archive.incomplete' when its source package is absent. */
export async function readEntryFiles(layout: QueueLayout, key: string, source: string): Promise<EntryFiles> {
  const directory = layout.archiveQueueEntry(key);
  const sourcePackage = `${key}.opk`;
  if (!(await isFile(join(directory, sourcePackage)))) {
    throw new InclusionError(
      'archive.incomplete',
      directory,
      `no source package ${sourcePackage}: the entry is not complete (or was already included)`,
    );
  }
  const names = (await readdir(directory)).filter((name) => !name.startsWith(TEMP_PREFIX)).sort();
  const results = new Map<string, string>();
  const logs = new Map<string, string>();
  for (const name of names) {
    const result = RESULT.exec(name)?.[1];
    if (result !== undefined) results.set(result, join(directory, name));
    const log = LOG.exec(name)?.[1];
    if (log !== undefined) logs.set(log, join(directory, name));
  }
  const stored = inArchive(layout, logDirectory(source));
  for (const name of (await readdir(stored).catch(ignoreMissing([] as string[]))).sort()) {
    if (!name.startsWith(`${key}_`)) continue;
    const build = RESULT.exec(name.slice(key.length + 1))?.[1];
    if (build !== undefined && !results.has(build)) results.set(build, join(stored, name));
  }
  return { key, directory, sourcePackage, changes: `${key}.changes`, names, results, logs };
}

async function isFile(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(ignoreMissing(undefined));
  return stats?.isFile() ?? false;
}

function ignoreMissing<T>(value: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return value;
    throw error;
  };
}
