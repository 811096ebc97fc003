/**
 * PIPELINE.md step 3 (builddd): a master entry whose link count has fallen to
 * 1 is held by no build queue any more, so every build's outputs are in its
 * archive-queue entry (I3). Its .changes and then its source package move
 * there; the source, the completion marker, goes last (I4). Renames only: a
 * crash between the two is finished by running the step again.
 */
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ignoreMissing } from '../fs/missing.js';
import { syncDirectory } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';

/** Keys of master entries no build queue holds, oldest first. */
export async function builtMasterEntries(layout: QueueLayout): Promise<string[]> {
  const keys: string[] = [];
  for (const name of (await readdir(layout.master)).sort()) {
    const key = /^(.+)\.opk$/.exec(name)?.[1];
    if (key === undefined || !parseUploadKey(key)) continue;
    const stats = await lstat(join(layout.master, name)).catch(() => undefined);
    if (stats?.nlink === 1) keys.push(key);
  }
  return keys;
}

/** Moves a built master entry into the archive queue. */
export async function moveToArchiveQueue(layout: QueueLayout, key: string): Promise<void> {
  const entry = layout.archiveQueueEntry(key);
  await mkdir(entry, { recursive: true });
  await rename(layout.masterChanges(key), join(entry, `${key}.changes`)).catch(ignoreMissing);
  await syncDirectory(entry);
  await rename(layout.masterEntry(key), join(entry, `${key}.opk`));
  await syncDirectory(entry);
  await syncDirectory(layout.master);
}
