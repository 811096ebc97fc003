/**
 * Uploading to a queue root on this machine (`opkfarm upload --root DIR`):
 * the same protocol as over SFTP, with file operations. A file is written to
 * its temporary name in incoming/ (opened with O_NOFOLLOW, so a link planted
 * there is never written through), fsynced, made readable by all and renamed.
 */
import { constants, createReadStream } from 'node:fs';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { uploadTempName } from '../formats/upload-names.js';
import { syncDirectory } from '../fs/atomic.js';
import { ignoreMissing } from '../fs/missing.js';
import { SendError } from './errors.js';
import type { UploadFile } from './local-check.js';
import type { UploadTransport } from './transport.js';

export class LocalTransport implements UploadTransport {
  readonly destination: string;

  constructor(private readonly incoming: string) {
    this.destination = pathToFileURL(incoming).href;
  }

  async listSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const names = await readdir(this.incoming).catch((error: unknown) => {
      throw this.#failure(`cannot list ${this.incoming}`, error);
    });
    for (const name of names) {
      const stats = await lstat(join(this.incoming, name)).catch(() => undefined);
      if (stats?.isFile()) sizes.set(name, stats.size);
    }
    return sizes;
  }

  async send(file: UploadFile, offset: number): Promise<void> {
    const temp = join(this.incoming, uploadTempName(file.name));
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (offset === 0 ? constants.O_TRUNC : 0);
      const output = await open(temp, flags, 0o644);
      try {
        // Plain positioned writes: a pipeline into a stream that must not close the handle never settles.
        let position = offset;
        for await (const chunk of createReadStream(file.path, { start: offset }) as AsyncIterable<Buffer>) {
          await output.write(chunk, 0, chunk.length, position);
          position += chunk.length;
        }
        // The mode given to open is masked by the umask; the farm must be able to read the file.
        await output.chmod(0o644);
        await output.sync();
      } finally {
        await output.close();
      }
      await rename(temp, join(this.incoming, file.name));
      await syncDirectory(this.incoming);
    } catch (error) {
      throw this.#failure(`cannot write ${file.name}`, error);
    }
  }

  async remove(name: string): Promise<void> {
    await unlink(join(this.incoming, name)).catch(ignoreMissing);
  }

  #failure(what: string, error: unknown): SendError {
    return new SendError('send.transport', this.destination, `${what}: ${(error as Error).message}; run the same command again to resume`, {
      cause: error,
    });
  }
}
