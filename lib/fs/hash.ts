/** File digests, computed in bounded chunks so that large packages never sit in memory. */
import { createHash, hash } from 'node:crypto';
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
  const digester = new Digester();
  // Sized by the file: a 1 MiB buffer for every small package made the garbage collector run far more often.
  const { size } = await handle.stat();
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size + 1, limit + 1));
  while (digester.size <= limit) {
    const wanted = Math.min(buffer.length, limit + 1 - digester.size);
    const { bytesRead } = await handle.read(buffer, 0, wanted, digester.size);
    if (bytesRead === 0) break;
    digester.update(buffer.subarray(0, bytesRead));
  }
  return digester.digests();
}

/** Size, SHA-256 and MD5 of bytes given in order, piece by piece (a file read for some other purpose). */
export class Digester {
  readonly #sha256 = createHash('sha256');
  readonly #md5 = createHash('md5');
  #size = 0;

  get size(): number {
    return this.#size;
  }

  update(chunk: Uint8Array): void {
    this.#sha256.update(chunk);
    this.#md5.update(chunk);
    this.#size += chunk.length;
  }

  /** The digests of everything given; call once, at the end. */
  digests(): FileDigests {
    return { size: this.#size, sha256: this.#sha256.digest('hex'), md5: this.#md5.digest('hex') };
  }
}

/** Size, SHA-256 and MD5 of bytes held whole (one-shot hashing: no hash objects for small inputs). */
export function digestBytes(bytes: Uint8Array): FileDigests {
  return { size: bytes.length, sha256: hash('sha256', bytes, 'hex'), md5: hash('md5', bytes, 'hex') };
}
