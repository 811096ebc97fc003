/**
 * Moving an entry of incoming/ that is no upload (a stray file, a link, a
 * FIFO, a directory, a partial file left behind) to
 * rejected/<key>/files/<name>, with the reason in rejected/<key>/REMARKS.
 * Nothing is deleted, read or followed: the entry is renamed as it is, so a
 * symbolic link stays a link and a hard link stays a name of its inode. It
 * goes under files/ so that no name an uploader chose can replace REMARKS.
 *
 * REMARKS is written first and the entry moves last, as in rejectUpload: an
 * interrupted move leaves the entry in incoming/ to move again.
 */
import { lstat, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory, writeContentAtomic } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { UploadError } from './errors.js';
import type { RejectedUpload } from './reject.js';
import { nextSequence } from './sequence.js';

/** Moves incoming/<name> to rejected/ with `reason` (what the farm found) and the reviewer's `remarks`. */
export async function rejectIncomingFile(layout: QueueLayout, name: string, reason: string, remarks: string): Promise<RejectedUpload> {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new UploadError('upload.not-found', JSON.stringify(name), 'not the name of an entry in incoming/');
  }
  const path = join(layout.incoming, name);
  if ((await lstat(path).catch(() => undefined)) === undefined) {
    throw new UploadError('upload.not-found', JSON.stringify(name), 'no such entry in incoming/');
  }
  const key = `${String(await nextSequence(layout)).padStart(10, '0')}_incoming_${safeKeyPart(name)}`;
  const directory = layout.rejectedEntry(key);
  await mkdir(join(directory, 'files'), { recursive: true });
  const text = [
    ...(remarks.trim() === '' ? [] : [remarks.trim(), '']),
    `Moved from incoming/: ${JSON.stringify(name)} (now files/ beside this file)`,
    `Reason: ${reason}`,
  ];
  await writeContentAtomic(join(directory, 'REMARKS'), `${text.join('\n')}\n`);
  try {
    await rename(path, join(directory, 'files', name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UploadError('upload.not-found', JSON.stringify(name), 'no such entry in incoming/ (moved or removed meanwhile)');
    }
    throw error;
  }
  await syncDirectory(join(directory, 'files'));
  await syncDirectory(layout.incoming);
  return { key, directory };
}

/** A name an uploader chose, reduced to characters safe in a key. */
function safeKeyPart(name: string): string {
  return name.replace(/[^A-Za-z0-9+._~-]/g, '_').replace(/^\.+/, '').slice(0, 100) || 'entry';
}
