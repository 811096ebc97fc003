import { randomBytes } from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import { type Compression, decompress, detectCompression } from '../../lib/opk/compression.js';
import { chunks, compress, rejection } from './fixtures.js';

const context = { file: 'pkg.opk', member: 'data.tar.x' };

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}


describe('detectCompression', () => {
  test('goes by magic bytes', () => {
    const cases: Array<[number[], Compression]> = [
      [[0x1f, 0x8b, 0x08], 'gzip'],
      [[0x42, 0x5a, 0x68, 0x39], 'bzip2'],
      [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz'],
      [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
      [[0xfd, 0x37, 0x7a, 0x58, 0x5a], 'none'], // xz magic cut short
      [[0x42, 0x5a], 'none'],
      [[], 'none'],
      [[...Buffer.from('./usr/')], 'none'],
    ];
    for (const [bytes, expected] of cases) expect(detectCompression(Buffer.from(bytes))).toBe(expected);
  });
});

describe('decompress', () => {
  test('round-trips every supported compression, fed in small chunks', async () => {
    const original = Buffer.concat([randomBytes(100_000), Buffer.alloc(300_000, 'a')]);
    for (const kind of ['gzip', 'xz', 'bzip2', 'zstd', 'none'] as const) {
      const compressed = await compress(original, kind);
      expect(detectCompression(compressed)).toBe(kind);
      const output = await collect(decompress(kind, chunks(compressed, 1000), context));
      expect(output.equals(original)).toBe(true);
    }
  });

  test('an error of the source wins over the decompressor\'s complaint about the missing rest', async () => {
    const formatError = new FormatError('opk.truncated', 'pkg.opk', 'outer archive cut short');
    const ioError = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
    for (const [kind, sourceError] of [
      ['xz', formatError],
      ['gzip', formatError],
      ['zstd', ioError],
      ['gzip', ioError],
    ] as const) {
      const compressed = await compress(randomBytes(200_000), kind);
      async function* source(): AsyncGenerator<Buffer> {
        yield* chunks(compressed.subarray(0, 50_000), 10_000);
        throw sourceError;
      }
      expect(await rejection(collect(decompress(kind, source(), context)))).toBe(sourceError);
    }
  });

  test('data the tool does not recognise is a decompress error naming file and member', async () => {
    const error = await rejection(collect(decompress('zstd', chunks(Buffer.from('not zstd at all')), context)));
    expect((error as FormatError).code).toBe('opk.decompress');
    expect(error.message).toBe('pkg.opk: data.tar.x: zstd -dc failed: unsupported format');
  });
});
