/**
 * No decompressor outlives the read that started it: not after an error in
 * the data, not after the consumer stops early.
 */
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, describe, expect, test } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import { decompress, detectCompression } from '../../lib/opk/compression.js';
import { readOpk } from '../../lib/opk/read.js';
import { buildOpk, childProcesses, chunks, compress, dataArchive, entry, rejection, standardMembers, tempDir } from './fixtures.js';

let bigXz: Promise<Buffer> | undefined;

/** 2 MiB of incompressible data, far more than the pipes between us and xz hold; made once. */
function bigXzData(): Promise<Buffer> {
  bigXz ??= dataArchive('xz', [entry.dir('./'), entry.file('./a-first', 'first\n'), entry.file('./noise', randomBytes(2 * 1024 * 1024))]);
  return bigXz;
}

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe('decompressor processes', () => {
  test('are killed when the consumer stops early (onDataEntry throws while xz is mid-stream)', async () => {
    const path = await buildOpk(await tempDir(), 'ar', await standardMembers({ name: 'data.tar.xz', content: await bigXzData() }));
    let runningDuringRead: string[] = [];
    const error = await rejection(
      readOpk(path, {
        onDataEntry: async (item) => {
          if (item.path !== 'a-first') return;
          runningDuringRead = await childProcesses();
          throw new Error('consumer gave up');
        },
      }),
    );
    expect(error.message).toBe('consumer gave up');
    // The check can see xz: it was running while the first entry was handled...
    expect(runningDuringRead).toContain('xz');
    // ...and it is gone once readOpk has settled.
    expect(await childProcesses()).toEqual([]);
  });

  test('have exited after a truncated xz member', async () => {
    const data = await bigXzData();
    const members = await standardMembers({ name: 'data.tar.xz', content: data.subarray(0, data.length - 1000) });
    const path = await buildOpk(await tempDir(), 'ar', members);
    const error = await rejection(readOpk(path));
    expect((error as FormatError).code).toBe('opk.truncated');
    expect(await childProcesses()).toEqual([]);
  });

  test('have exited after an unsafe entry is found mid-stream', async () => {
    const data = await dataArchive('zstd', [
      entry.dir('./'),
      { header: { name: './fifo', type: 'fifo', mode: 0o644 } },
      entry.file('./noise', randomBytes(4 * 1024 * 1024)),
    ]);
    const path = await buildOpk(await tempDir(), 'ar', await standardMembers({ name: 'data.tar.zst', content: data }));
    const error = await rejection(readOpk(path));
    expect((error as FormatError).code).toBe('opk.unsafe-entry');
    expect(await childProcesses()).toEqual([]);
  });

  test('are killed when decompress() is returned early', async () => {
    const compressed = await compress(randomBytes(4 * 1024 * 1024), 'bzip2');
    expect(detectCompression(compressed)).toBe('bzip2');
    const output = decompress('bzip2', chunks(compressed, 65536), { file: 'test', member: 'data.tar.bz2' });
    const first = await output.next();
    expect(first.done).toBe(false);
    expect(await childProcesses()).toContain('bzip2');
    await output.return();
    expect(await childProcesses()).toEqual([]);
  });

  test('are killed and waited for even when they ignore end of input, SIGPIPE and SIGTERM', async () => {
    // A stand-in "xz" that writes a little, then neither reads nor writes, and ignores polite signals.
    const bin = await tempDir();
    await writeFile(join(bin, 'xz'), "#!/bin/sh\ntrap '' PIPE TERM HUP INT\nprintf data\nexec sleep 60\n");
    await chmod(join(bin, 'xz'), 0o755);
    process.env.PATH = `${bin}:${savedPath ?? ''}`;

    const output = decompress('xz', chunks(Buffer.from('anything')), { file: 'test', member: 'data.tar.xz' });
    const first = await output.next();
    expect(first.value?.toString()).toBe('data');
    // The stand-in exec'd sleep, so that is the name it now runs under.
    expect(await childProcesses()).toEqual(['sleep']);
    await output.return();
    expect(await childProcesses()).toEqual([]);
  });
});
