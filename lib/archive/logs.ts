/**
 * Stores an entry's build logs and results in the archive:
 * `archive-queue/<key>/<arch>_<plat>.log` and `.result` become
 * `archive/logs/<source>/<key>_<arch>_<plat>.log` and `.result`.
 *
 * Each file is hard-linked (same filesystem) rather than renamed, and the
 * entry's own names go when the whole entry is removed: the entry stays
 * intact until inclusion ends, so a run killed half-way finds it as it was.
 * A stored name that already holds the same inode (an earlier, interrupted
 * run) is left alone; one holding anything else is replaced atomically
 * (link to a temporary name, rename over it). The logs directory is fsynced
 * through the caller's DirectorySyncs.
 */
import { link, rename, stat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { tempPathFor, type DirectorySyncs } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { makeDirectories } from './directories.js';
import { changesRecordPath, inArchive, logDirectory, logPath } from './paths.js';
import { faultPoint } from '../fault.js';

/** One file to store: the build (`<arch>_<plat>`), its path in the entry and its kind. */
export interface BuildRecord {
  readonly build: string;
  readonly path: string;
  readonly extension: '.log' | '.result';
}

/** Links each record into the source's logs directory; returns the archive-relative paths stored. */
export async function storeBuildRecords(
  layout: QueueLayout,
  source: string,
  key: string,
  records: readonly BuildRecord[],
  syncs: DirectorySyncs,
): Promise<string[]> {
  if (records.length === 0) return [];
  await makeDirectories(layout.archive, logDirectory(source), syncs);
  const stored: string[] = [];
  for (const record of records) {
    const relative = logPath(source, key, record.build, record.extension);
    await linkReplacing(record.path, inArchive(layout, relative));
    faultPoint('archived.log-stored');
    stored.push(relative);
  }
  syncs.add(inArchive(layout, logDirectory(source)));
  return stored;
}

/** Links the upload's .changes into the source's logs directory; returns its archive-relative path. */
export async function storeChangesRecord(layout: QueueLayout, source: string, key: string, path: string, syncs: DirectorySyncs): Promise<string> {
  await makeDirectories(layout.archive, logDirectory(source), syncs);
  const relative = changesRecordPath(source, key);
  await linkReplacing(path, inArchive(layout, relative));
  faultPoint('archived.changes-stored');
  syncs.add(inArchive(layout, logDirectory(source)));
  return relative;
}

async function linkReplacing(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const [source, existing] = await Promise.all([stat(from), stat(to)]);
  if (source.dev === existing.dev && source.ino === existing.ino) return;
  const temp = tempPathFor(to);
  await link(from, temp);
  try {
    await rename(temp, to);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new Error(`${basename(from)}: cannot store as ${to}: ${(error as Error).message}`, { cause: error });
  }
}
