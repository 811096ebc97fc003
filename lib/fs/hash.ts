/** File digests, computed in bounded chunks so that large packages never sit in memory. */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

export interface FileDigests {
  readonly size: number;
  readonly sha256: string;
  readonly md5: string;
}

const CHUNK = 1024 * 1024;

/** Size, SHA-256 and MD5 of a file, read once. */
export async function digestFile(path: string): Promise<FileDigests> {
  const handle = await open(path, 'r');
  try {
    return await digestHandle(handle);
  } finally {
    await handle.close();
  }
}

/**
 * Size, SHA-256 and MD5 of an open file, reading at most one byte past
 * `limit` (when given) so that a file still growing cannot keep us reading.
 */
export async function digestHandle(handle: FileHandle, limit = Number.POSITIVE_INFINITY): Promise<FileDigests> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  while (size <= limit) {
    const wanted = Math.min(buffer.length, limit + 1 - size);
    const { bytesRead } = await handle.read(buffer, 0, wanted, size);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    sha256.update(chunk);
    md5.update(chunk);
    size += bytesRead;
  }
  return { size, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}
