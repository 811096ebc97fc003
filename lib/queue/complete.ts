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
import { faultPoint } from '../fault.js';

/**
 * Keys of master entries no build queue holds, oldest first: of every entry
 * in master/, or only of the keys `among` (what a daemon was told changed).
 */
export async function builtMasterEntries(layout: QueueLayout, among?: Iterable<string>): Promise<string[]> {
  const candidates = among === undefined ? await masterKeys(layout) : [...new Set(among)].filter((key) => parseUploadKey(key)).sort();
  const keys: string[] = [];
  for (const key of candidates) {
    const stats = await lstat(layout.masterEntry(key)).catch(() => undefined);
    if (stats?.nlink === 1) keys.push(key);
  }
  return keys;
}

/** Every upload key with a source package in master/, sorted. */
async function masterKeys(layout: QueueLayout): Promise<string[]> {
  const keys: string[] = [];
  for (const name of (await readdir(layout.master)).sort()) {
    const key = /^(.+)\.opk$/.exec(name)?.[1];
    if (key !== undefined && parseUploadKey(key)) keys.push(key);
  }
  return keys;
}

/**
 * The upload key a name in master/ or a claims directory stands for
 * (`<key>.opk`, `<key>.changes`, `<key>.opk@<host>@<pid>`), or undefined.
 */
export function keyOfQueueName(name: string): string | undefined {
  const key = /^(.+?)\.(?:opk(?:@.*)?|changes)$/.exec(name)?.[1];
  return key !== undefined && parseUploadKey(key) ? key : undefined;
}

/** Moves a built master entry into the archive queue. */
export async function moveToArchiveQueue(layout: QueueLayout, key: string): Promise<void> {
  const entry = layout.archiveQueueEntry(key);
  await mkdir(entry, { recursive: true });
  faultPoint('builddd.entry-made');
  await rename(layout.masterChanges(key), join(entry, `${key}.changes`)).catch(ignoreMissing);
  faultPoint('builddd.changes-moved');
  await syncDirectory(entry);
  await rename(layout.masterEntry(key), join(entry, `${key}.opk`));
  faultPoint('builddd.source-moved');
  await syncDirectory(entry);
  await syncDirectory(layout.master);
}
