import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, test } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import { readTar, type TarEntry } from '../../lib/opk/tar-read.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeaderFields } from '../../lib/opk/tar-write.js';
import { chunks, entry, lines, rejection, tarOf, tempDir } from './fixtures.js';

const context = { file: 'test.opk', member: 'data.tar' };

const PREFIXED = `./${'p'.repeat(60)}/${'q'.repeat(60)}/${'r'.repeat(50)}`; // > 100 bytes, splits at a slash
const LONG_COMPONENT = `./${'c'.repeat(130)}`; // cannot split: pax path
const LONG_TARGET = `../${'t'.repeat(120)}`; // pax linkpath

const HEADERS: TarHeaderFields[] = [
  { path: './', type: 'directory', mode: 0o755, size: 0, mtime: 1 },
  { path: './zero-mode', type: 'file', mode: 0, size: 3, mtime: 2 },
  { path: PREFIXED, type: 'file', mode: 0o644, size: 0, mtime: 3 },
  { path: LONG_COMPONENT, type: 'file', mode: 0o600, size: 0, mtime: 4 },
  { path: './link', type: 'symlink', mode: 0o777, size: 0, mtime: 5, linkTarget: LONG_TARGET },
  { path: './hard', type: 'link', mode: 0o644, size: 0, mtime: 6, linkTarget: './zero-mode' },
  { path: './ünïcode', type: 'file', mode: 0o4755, size: 0, mtime: 7 },
];

function archiveOf(headers: readonly TarHeaderFields[]): Buffer {
  const parts: Buffer[] = [];
  for (const fields of headers) {
    parts.push(encodeHeader(fields));
    if (fields.size > 0) parts.push(Buffer.alloc(fields.size, 'x'), padding(fields.size));
  }
  return Buffer.concat([...parts, END_OF_ARCHIVE]);
}


type Seen = Omit<TarEntry, 'body' | 'typeflag'>;

async function entries(data: AsyncIterable<Buffer>): Promise<Seen[]> {
  const seen: Seen[] = [];
  for await (const { path, type, size, mode, mtime, linkTarget } of readTar(data, context)) {
    seen.push({ path, type, size, mode, mtime, ...(linkTarget === undefined ? {} : { linkTarget }) });
  }
  return seen;
}

/** A header block with a patched byte and a recomputed checksum. */
function patched(block: Buffer, offset: number, bytes: Buffer): Buffer {
  const copy = Buffer.from(block);
  bytes.copy(copy, offset);
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of copy) sum += byte;
  copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return copy;
}

describe('tar headers written by tar-write', () => {
  test('read back by readTar', async () => {
    expect(await entries(chunks(archiveOf(HEADERS)))).toEqual(HEADERS.map(({ path, type, mode, size, mtime, linkTarget }) => ({
      path,
      type,
      size,
      mode,
      mtime,
      ...(linkTarget === undefined ? {} : { linkTarget }),
    })));
  });

  test('read back by GNU tar', async () => {
    const path = join(await tempDir(), 'x.tar');
    await writeFile(path, archiveOf(HEADERS));
    const listing = await lines('tar', ['--quoting-style=literal', '--numeric-owner', '-tvf', path]);
    expect(listing.map((line) => line.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'drwxr-xr-x 0/0 0',
      '---------- 0/0 3',
      '-rw-r--r-- 0/0 0',
      '-rw------- 0/0 0',
      'lrwxrwxrwx 0/0 0',
      'hrw-r--r-- 0/0 0',
      '-rwsr-xr-x 0/0 0',
    ]);
    expect(listing.map((line) => line.split(/\s+/).slice(5).join(' '))).toEqual([
      './',
      './zero-mode',
      PREFIXED,
      LONG_COMPONENT,
      `./link -> ${LONG_TARGET}`,
      './hard link to ./zero-mode',
      './ünïcode',
    ]);
  });

  test('sizes beyond 8 GiB go in a pax record', async () => {
    const size = 9 * 1024 ** 3;
    const data = Buffer.concat([encodeHeader({ path: './huge', type: 'file', mode: 0o644, size, mtime: 0 }), Buffer.alloc(512)]);
    const generator = readTar(chunks(data), context);
    const first = await generator.next();
    expect(first.value).toMatchObject({ path: './huge', size });
    await expect(generator.next()).rejects.toThrow('test.opk: data.tar: truncated tar archive: entry "./huge" is cut short');
  });
});

describe('readTar', () => {
  test('reads GNU base-256 sizes, old-style directories and reports unknown types', async () => {
    const file = encodeHeader({ path: './big', type: 'file', mode: 0o644, size: 0, mtime: 0 });
    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256[11] = 5;
    const sparse = patched(encodeHeader({ path: './sparse', type: 'file', mode: 0o644, size: 0, mtime: 0 }), 156, Buffer.from('S'));
    const oldDir = encodeHeader({ path: './old/', type: 'file', mode: 0o755, size: 0, mtime: 0 });
    const data = Buffer.concat([patched(file, 124, base256), Buffer.from('hello'), padding(5), sparse, oldDir, END_OF_ARCHIVE]);
    const seen: Array<[string, string, string, number]> = [];
    for await (const item of readTar(chunks(data), context)) seen.push([item.path, item.type, item.typeflag, item.size]);
    expect(seen).toEqual([
      ['./big', 'file', '0', 5],
      ['./sparse', 'other', 'S', 0],
      ['./old/', 'directory', '0', 0],
    ]);
  });

  test('refuses bad checksums, and data on entries that cannot have any', async () => {
    const good = encodeHeader({ path: './a', type: 'file', mode: 0o644, size: 0, mtime: 0 });
    const corrupt = Buffer.from(good);
    corrupt[0] = 0x62;
    const error = await rejection(entries(chunks(Buffer.concat([corrupt, END_OF_ARCHIVE]))));
    expect((error as FormatError).code).toBe('opk.bad-member');
    expect(error.message).toBe('test.opk: data.tar: not a tar archive, or a corrupt tar header at offset 0 (checksum mismatch)');

    const dirWithData = encodeHeader({ path: './d/', type: 'directory', mode: 0o755, size: 10, mtime: 0 });
    await expect(entries(chunks(Buffer.concat([dirWithData, Buffer.alloc(512), END_OF_ARCHIVE])))).rejects.toThrow(
      'test.opk: data.tar: entry "./d/" is a directory with a non-zero size',
    );
  });

  test('needs the end-of-archive block, and reads everything after it', async () => {
    const data = await tarOf([entry.dir('./'), entry.file('./a', 'a')]);
    // Blocks: "./" header, "./a" header, "./a" data, then the end of the archive.
    await expect(entries(chunks(data.subarray(0, 3 * 512)))).rejects.toThrow(
      'test.opk: data.tar: truncated tar archive: ends without an end-of-archive block',
    );
    await expect(entries(chunks(data.subarray(0, 2 * 512)))).rejects.toThrow(
      'test.opk: data.tar: truncated tar archive: entry "./a" is cut short',
    );
    await expect(entries(chunks(data.subarray(0, 700)))).rejects.toThrow(
      'test.opk: data.tar: truncated tar archive: ends inside the header at offset 512',
    );
    await expect(entries(chunks(Buffer.alloc(0)))).rejects.toThrow('test.opk: data.tar: truncated tar archive: it is empty');

    let reachedEnd = false;
    async function* source(): AsyncGenerator<Buffer> {
      yield* chunks(data);
      yield* chunks(Buffer.alloc(10_240)); // record padding, as GNU tar writes
      reachedEnd = true;
    }
    expect((await entries(source())).map((item) => item.path)).toEqual(['./', './a']);
    expect(reachedEnd).toBe(true);
  });
});
