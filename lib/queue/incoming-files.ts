/**
 * Files of incoming/ as accept reads them: the uploader may still touch
 * them (write, truncate, replace, or plant a link or a FIFO), so each is
 * opened without following links or blocking, taken only when it is a
 * regular file with one link, and copied into a farm-owned file whose
 * content is checked against the .changes.
 */
import { constants, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { cannotWrite } from '../fs/atomic.js';
import { digestHandle } from '../fs/hash.js';
import { ignoreMissing } from '../fs/missing.js';
import { UploadError } from './errors.js';

/**
 * A file of incoming/ as accept copied it. The same inode with the same
 * size and change time still holds what was copied: any write, truncation
 * or utimes moves ctime, which no user can set back.
 */
export interface CopiedFile {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly ctimeNs: bigint;
}

/**
 * Whether `path` still holds the accepted content: the file this accept
 * copied, unchanged (no need to read it again, which for a large source
 * package took as long as the copy), or else a file whose SHA-256 is `sha256`.
 */
export async function holdsAcceptedContent(path: string, sha256: string, copied: CopiedFile | undefined): Promise<boolean> {
  if (copied !== undefined) {
    const now = await lstat(path, { bigint: true }).catch(() => undefined);
    if (now?.isFile() && now.dev === copied.dev && now.ino === copied.ino && now.size === copied.size && now.ctimeNs === copied.ctimeNs) return true;
  }
  return (await sha256Of(path)) === sha256;
}

/**
 * Copies a file the uploader may still touch into a new farm-owned file,
 * checking its SHA-256 when given; returns the file as it was copied.
 */
export async function copyVerified(from: string, to: string, sha256?: string): Promise<CopiedFile> {
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const source = await openUploaded(from);
  if (source === undefined) {
    throw new UploadError('upload.changed', basename(from), 'is no longer a regular file with one link; check the upload again');
  }
  // Before the copy: a change during it moves ctime, so the file no longer passes for the one copied.
  const { dev, ino, size, ctimeNs } = await source.stat({ bigint: true });
  try {
    await pipeline(source.createReadStream(), hasher, createWriteStream(to, { flags: 'wx', mode: 0o644, flush: true }));
  } catch (error) {
    // A full disk, most likely: no partial copy stays behind, and the message names it.
    await unlink(to).catch(ignoreMissing);
    throw cannotWrite(to, error);
  }
  const actual = hash.digest('hex');
  if (sha256 !== undefined && actual !== sha256) {
    await unlink(to);
    throw new UploadError('upload.changed', basename(from), `changed while being accepted (SHA-256 ${actual}, .changes lists ${sha256})`);
  }
  return { dev, ino, size, ctimeNs };
}

/**
 * Opens a file of incoming/ as checkUpload judged it: without following a
 * symbolic link, without blocking on a FIFO, and only if what was opened is
 * a regular file with one link (an uploader may have swapped it since).
 * Undefined otherwise.
 */
async function openUploaded(path: string): Promise<FileHandle | undefined> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (handle === undefined) return undefined;
  const stats = await handle.stat();
  if (stats.isFile() && stats.nlink === 1) return handle;
  await handle.close();
  return undefined;
}

/** The text of a file of incoming/ opened with openUploaded; undefined when it cannot be. */
export async function readUploaded(path: string): Promise<string | undefined> {
  const handle = await openUploaded(path);
  if (handle === undefined) return undefined;
  try {
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The SHA-256 of a file in incoming/ opened with openUploaded; undefined when it cannot be read. */
async function sha256Of(path: string): Promise<string | undefined> {
  const handle = await openUploaded(path);
  if (!handle) return undefined;
  try {
    return (await digestHandle(handle)).sha256;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}
