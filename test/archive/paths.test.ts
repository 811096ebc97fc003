/** Archive paths: pool hash directories, file names, feeds, and Filename relative to a feed. */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

import { feedFilename, feedPath, inArchive, logPath, poolFileName, poolHash, poolPath, uploadSuite } from '../../lib/archive/paths.js';
import { QueueLayout } from '../../lib/layout.js';

describe('archive paths', () => {
  it('hashes a source by its first letter, or its first four when it starts with lib', () => {
    expect(poolHash('hello')).toBe('h');
    expect(poolHash('zlib')).toBe('z');
    expect(poolHash('libfoo')).toBe('libf');
    expect(poolHash('lib4')).toBe('lib4');
    expect(poolHash('lib')).toBe('lib');
  });

  it('names pool files without the epoch', () => {
    expect(poolFileName('hello', '1:2.0-1', 'amd64-linux-glibc', 'all')).toBe('hello_2.0-1_amd64-linux-glibc_all.opk');
    expect(poolPath('libfoo', 'libfoo1_1_all_all.opk')).toBe('pool/libf/libfoo/libfoo1_1_all_all.opk');
  });

  it('gives a Filename that resolves from the feed directory to the pool file', () => {
    const layout = new QueueLayout('/srv/farm');
    const feed = feedPath('trunk', 'amd64-linux-glibc', 'all', 'misc');
    expect(feed).toBe('feeds/dev/trunk/amd64-linux-glibc/all/misc');
    const pool = poolPath('hello', 'hello_1.0-1_amd64-linux-glibc_all.opk');
    const filename = feedFilename(feed, pool);
    expect(filename).toBe('../../../../../../pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk');
    expect(resolve(inArchive(layout, feed), filename)).toBe(join('/srv/farm/archive', pool));
  });

  it('names suites and stored logs', () => {
    expect(uploadSuite('trunk')).toBe('dev/trunk');
    expect(logPath('hello', '0000000001_hello_1.0-1', 'all_all', '.log')).toBe('logs/hello/0000000001_hello_1.0-1_all_all.log');
  });
});
