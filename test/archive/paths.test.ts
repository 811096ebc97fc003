/** Archive paths: pool hash directories, file names, feeds, and Filename relative to a feed. */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

import { feedFilename, feedPath, inArchive, logPath, parsePoolFileName, poolFileName, poolHash, poolNameHasVersion, poolPath, uploadSuite } from '../../lib/archive/paths.js';
import { QueueLayout } from '../../lib/layout.js';

describe('archive paths', () => {
  it('hashes a source by its first letter, or its first four when it starts with lib', () => {
    expect(poolHash('hello')).toBe('h');
    expect(poolHash('zlib')).toBe('z');
    expect(poolHash('libfoo')).toBe('libf');
    expect(poolHash('lib4')).toBe('lib4');
    expect(poolHash('lib')).toBe('lib');
  });

  it('names pool files with the epoch, so that 1:2.0-1 and 2.0-1 have names of their own', () => {
    expect(poolFileName('hello', '1:2.0-1', 'amd64-linux-glibc', 'all')).toBe('hello_1:2.0-1_amd64-linux-glibc_all.opk');
    expect(poolFileName('hello', '2.0-1', 'amd64-linux-glibc', 'all')).toBe('hello_2.0-1_amd64-linux-glibc_all.opk');
    expect(poolPath('libfoo', 'libfoo1_1_all_all.opk')).toBe('pool/libf/libfoo/libfoo1_1_all_all.opk');
  });

  it('numbers builds after the first with _b<N>, and parses what it names', () => {
    expect(poolFileName('hello', '1.0-1', 'all', 'dev+x', 2)).toBe('hello_1.0-1_all_dev+x_b2.opk');
    expect(() => poolFileName('hello', '1.0-1', 'all', 'all', 0)).toThrow(RangeError);
    for (const [pkg, version, architecture, platform, build] of [
      ['hello', '1.0-1', 'amd64-linux-glibc', 'all', 1],
      ['libfoo1', '2.0~rc1+dfsg', 'all', 'dev+x.y', 12],
      ['src-hello', '1:1.0', 'src', 'all', 3],
    ] as const) {
      const name = poolFileName(pkg, version, architecture, platform, build);
      const parsed = parsePoolFileName(name);
      expect(parsed, name).toEqual({ package: pkg, version, architecture, platform, build });
      if (parsed !== undefined) expect(poolFileName(parsed.package, parsed.version, parsed.architecture, parsed.platform, parsed.build)).toBe(name);
    }
    // A name made before pool names kept the epoch is still read, its version as the name has it.
    expect(parsePoolFileName('hello_2.0-1_all_all.opk')).toEqual({ package: 'hello', version: '2.0-1', architecture: 'all', platform: 'all', build: 1 });
    expect(poolNameHasVersion({ package: 'hello', version: '2.0-1', architecture: 'all', platform: 'all', build: 1 }, '1:2.0-1')).toBe(true);
    for (const name of ['hello_1.0_all_all_b1.opk', 'hello_1.0_all.opk', 'hello_1.0_all_all_b2x.opk', 'hello_1.0_all_all.deb', 'a/b_1_all_all.opk']) {
      expect(parsePoolFileName(name), name).toBeUndefined();
    }
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
