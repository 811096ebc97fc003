/**
 * Unpacking an opk's data archive into a directory (buildd unpacks source
 * packages this way). Every entry has passed readOpk's safety checks before
 * it is written, and files are created exclusively without following links,
 * so a package cannot write outside `destination` or through a planted link.
 */
import { constants } from 'node:fs';
import { link, mkdir, open, symlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cannotWrite } from '../fs/atomic.js';
import { readOpk, type OpkContents } from './read.js';

/** Unpacks the data archive of `opk` into the existing, empty directory `destination`; `handle` and `maxDataSize` as readOpk's. */
export async function extractOpkData(
  opk: string,
  destination: string,
  options: { handle?: FileHandle; maxDataSize?: number | undefined } = {},
): Promise<OpkContents> {
  return readOpk(opk, {
    ...options,
    onDataEntry: async (entry) => {
      if (entry.path === '.') return;
      const target = join(destination, entry.path);
      switch (entry.type) {
        case 'directory':
          await mkdir(target, { recursive: true, mode: entry.mode | 0o700 });
          break;
        case 'file': {
          await mkdir(dirname(target), { recursive: true });
          const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, entry.mode);
          try {
            // Plain writes: a pipeline into a non-closing write stream never settles.
            for await (const chunk of entry.body as AsyncIterable<Buffer>) {
              await handle.write(chunk).catch((error: unknown) => {
                throw cannotWrite(target, error);
              });
            }
            await handle.chmod(entry.mode);
          } finally {
            await handle.close();
          }
          break;
        }
        case 'symlink':
          await mkdir(dirname(target), { recursive: true });
          await symlink(entry.linkTarget ?? '', target);
          break;
        case 'link':
          await mkdir(dirname(target), { recursive: true });
          await link(join(destination, entry.linkTarget ?? ''), target);
          break;
      }
    },
  });
}
