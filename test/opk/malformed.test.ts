import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, describe, expect, test } from 'vitest';

import { EnvironmentError, FormatError, type FormatErrorCode } from '../../lib/errors.js';
import { Stanza } from '../../lib/formats/control.js';
import { readOpk, type ReadOpkOptions } from '../../lib/opk/read.js';
import { scanOpk } from '../../lib/opk/scan.js';
import { writeOpk } from '../../lib/opk/write.js';
import {
  buildOpk,
  compress,
  controlArchive,
  dataArchive,
  entry,
  type FixtureEntry,
  type Kind,
  type Member,
  rejection,
  standardMembers,
  tarOf,
  tempDir,
  truncatedCopy,
} from './fixtures.js';

/**
 * Asserts that reading `path` fails with a FormatError of this code and
 * exactly this message, and (without options) that scanOpk refuses it alike.
 */
async function expectFormatError(
  path: string,
  code: FormatErrorCode,
  message: string,
  options?: ReadOpkOptions,
): Promise<void> {
  const error = await rejection(readOpk(path, options));
  expect(error).toBeInstanceOf(FormatError);
  expect({ code: (error as FormatError).code, message: error.message }).toEqual({ code, message });
  if (options === undefined) {
    const scanned = await rejection(scanOpk(path));
    expect({ code: (scanned as FormatError).code, message: scanned.message }).toEqual({ code, message });
  }
}

/** An ar opk whose data archive holds these entries. */
async function opkWithData(entries: readonly FixtureEntry[], kind: Kind = 'gzip'): Promise<string> {
  const dir = await tempDir();
  const name = kind === 'none' ? 'data.tar' : `data.tar.${{ gzip: 'gz', xz: 'xz', bzip2: 'bz2', zstd: 'zst' }[kind]}`;
  const data = await dataArchive(kind, [entry.dir('./'), ...entries]);
  return buildOpk(dir, 'ar', await standardMembers({ name, content: data }));
}

async function writeFixture(name: string, content: Buffer | string): Promise<string> {
  const path = join(await tempDir(), name);
  await writeFile(path, content);
  return path;
}

/** A valid opk from writeOpk (gzip-compressed tar outside, gzip tars inside). */
async function writtenOpk(): Promise<string> {
  const dir = await tempDir();
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'usr/share/hello'), { recursive: true });
  await writeFile(join(tree, 'usr/share/hello/noise'), randomBytes(64 * 1024));
  const destination = join(dir, 'hello.opk');
  await writeOpk({ destination, control: new Stanza([['Package', 'hello']]), dataDirectory: tree, sourceDateEpoch: 0 });
  return destination;
}

describe('the outer archive', () => {
  test('empty file', async () => {
    const path = await writeFixture('empty.opk', '');
    await expectFormatError(path, 'opk.truncated', `${path}: empty file`);
  });

  test('wrong magic', async () => {
    const path = await writeFixture('text.opk', 'Package: hello\n'.repeat(50));
    await expectFormatError(
      path,
      'opk.bad-magic',
      `${path}: not an opk: expected an ar archive, a tar archive or a gzip-compressed tar archive`,
    );
  });

  test('gzip data that is not a tar', async () => {
    const path = await writeFixture('gz.opk', await compress(Buffer.alloc(4096, 'x'), 'gzip'));
    await expectFormatError(path, 'opk.bad-magic', `${path}: not an opk: the gzip-compressed data is not a tar archive`);
  });

  test('truncated gzip-compressed tar (a written opk cut in half)', async () => {
    const path = await truncatedCopy(await writtenOpk());
    await expectFormatError(path, 'opk.truncated', `${path}: outer archive: truncated: gzip data ends early (unexpected end of file)`);
  });

  test('truncated ar (cut in the data member)', async () => {
    const dir = await tempDir();
    const data = await compress(await tarOf([entry.dir('./'), entry.file('./noise', randomBytes(32 * 1024))]), 'xz');
    const full = await buildOpk(dir, 'ar', await standardMembers({ name: 'data.tar.xz', content: data }));
    const path = await truncatedCopy(full);
    await expectFormatError(
      path,
      'opk.truncated',
      `${path}: truncated ar archive: member "data.tar.xz" is cut short (expected ${data.length} bytes)`,
    );
  });

  test('truncated ar (cut inside a member header)', async () => {
    const full = await buildOpk(await tempDir(), 'ar', await standardMembers());
    const path = await truncatedCopy(full, () => 8 + 60 + 4 + 30);
    await expectFormatError(path, 'opk.truncated', `${path}: truncated ar archive: ends inside the member header at offset 72`);
  });

  test('truncated plain tar', async () => {
    const dir = await tempDir();
    const data = await tarOf([entry.dir('./'), entry.file('./noise', randomBytes(32 * 1024))]);
    const full = await buildOpk(dir, 'tar', await standardMembers({ name: 'data.tar', content: data }));
    const path = await truncatedCopy(full);
    await expectFormatError(path, 'opk.truncated', `${path}: outer archive: truncated tar archive: entry "./data.tar" is cut short`);
  });

  test('missing data member', async () => {
    const members = (await standardMembers()).filter((member) => member.name !== 'data.tar.gz');
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.missing-member', `${path}: no data.tar.* member`);
  });

  test('missing control member', async () => {
    const members = (await standardMembers()).filter((member) => member.name !== 'control.tar.gz');
    const path = await buildOpk(await tempDir(), 'tar.gz', members);
    await expectFormatError(path, 'opk.missing-member', `${path}: no control.tar.* member`);
  });

  test('missing debian-binary', async () => {
    const members = (await standardMembers()).filter((member) => member.name !== 'debian-binary');
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.missing-member', `${path}: no debian-binary member`);
  });

  test('bad debian-binary', async () => {
    const members = await standardMembers();
    members[0] = { name: 'debian-binary', content: Buffer.from('3.0\n') };
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.bad-member', `${path}: debian-binary: unsupported package format "3.0" (expected 2.x)`);
  });

  test('an unexpected extra member', async () => {
    const members: Member[] = [...(await standardMembers()), { name: 'extra.txt', content: Buffer.from('hi\n') }];
    const path = await buildOpk(await tempDir(), 'tar.gz', members);
    await expectFormatError(
      path,
      'opk.bad-member',
      `${path}: unexpected member "./extra.txt" (an opk holds debian-binary, control.tar.* and data.tar.*)`,
    );
  });

  test('a second data member', async () => {
    const members: Member[] = [...(await standardMembers()), { name: 'data.tar.xz', content: await dataArchive('xz') }];
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.bad-member', `${path}: second data member "data.tar.xz"`);
  });

  test('a missing file is an environment problem', async () => {
    const path = join(await tempDir(), 'absent.opk');
    const error = await rejection(readOpk(path));
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.message).toBe(`${path}: cannot read: ENOENT: no such file or directory, open '${path}'`);
  });
});

describe('the inner archives', () => {
  test('truncated gzip data member', async () => {
    const data = await dataArchive('gzip', [entry.dir('./'), entry.file('./noise', randomBytes(16 * 1024))]);
    const members = await standardMembers({ name: 'data.tar.gz', content: data.subarray(0, data.length / 2) });
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.truncated', `${path}: data.tar.gz: truncated: gzip data ends early (unexpected end of file)`);
  });

  test('truncated xz data member', async () => {
    const data = await dataArchive('xz', [entry.dir('./'), entry.file('./noise', randomBytes(16 * 1024))]);
    const members = await standardMembers({ name: 'data.tar.xz', content: data.subarray(0, data.length / 2) });
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.truncated', `${path}: data.tar.xz: truncated: xz reports "Unexpected end of input"`);
  });

  test('truncated bzip2 and zstd data members', async () => {
    for (const [kind, name, report] of [
      ['bzip2', 'data.tar.bz2', 'bzip2 reports "Compressed file ends unexpectedly;"'],
      ['zstd', 'data.tar.zst', 'zstd reports "Read error (39) : premature end"'],
    ] as const) {
      const data = await dataArchive(kind, [entry.dir('./'), entry.file('./noise', randomBytes(16 * 1024))]);
      const members = await standardMembers({ name, content: data.subarray(0, data.length / 2) });
      const path = await buildOpk(await tempDir(), 'ar', members);
      await expectFormatError(path, 'opk.truncated', `${path}: ${name}: truncated: ${report}`);
    }
  });

  test('uncompressed data tar without its end-of-archive blocks', async () => {
    const data = await tarOf([entry.dir('./'), entry.file('./a', 'a\n')]);
    const members = await standardMembers({ name: 'data.tar', content: data.subarray(0, 3 * 512) });
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.truncated', `${path}: data.tar: truncated tar archive: ends without an end-of-archive block`);
  });

  test('corrupt xz and gzip data', async () => {
    const xz = Buffer.from(await dataArchive('xz', [entry.dir('./'), entry.file('./noise', randomBytes(16 * 1024))]));
    xz.fill(0x55, 100, 140);
    const xzPath = await buildOpk(await tempDir(), 'ar', await standardMembers({ name: 'data.tar.xz', content: xz }));
    await expectFormatError(xzPath, 'opk.decompress', `${xzPath}: data.tar.xz: xz -dc failed: Compressed data is corrupt`);

    const gzip = Buffer.from(await dataArchive('gzip'));
    gzip.fill(0, gzip.length - 8, gzip.length - 4); // the CRC32
    const gzipPath = await buildOpk(await tempDir(), 'ar', await standardMembers({ name: 'data.tar.gz', content: gzip }));
    await expectFormatError(gzipPath, 'opk.decompress', `${gzipPath}: data.tar.gz: corrupt gzip data: incorrect data check`);
  });

  test('control archive without a control file', async () => {
    const members = await standardMembers();
    members[1] = { name: 'control.tar.gz', content: await controlArchive([entry.file('./postinst', '#!/bin/sh\n', 0o755)], null) };
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.missing-member', `${path}: control.tar.gz: no control file`);
  });

  test('control archive with a subdirectory', async () => {
    const members = await standardMembers();
    members[1] = { name: 'control.tar.gz', content: await controlArchive([entry.dir('./scripts/')]) };
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(
      path,
      'opk.bad-member',
      `${path}: control.tar.gz: unexpected directory "./scripts/" (a control archive holds only plain files)`,
    );
  });

  test('oversized control file', async () => {
    const members = await standardMembers();
    const big = Buffer.alloc(1024 * 1024 + 1, '#');
    members[1] = { name: 'control.tar.gz', content: await controlArchive([entry.file('./postinst', big, 0o755)]) };
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.too-large', `${path}: control.tar.gz: control file "postinst" is larger than 1048576 bytes`);
  });

  test('oversized control archive', async () => {
    const members = await standardMembers();
    const files = Array.from({ length: 17 }, (_, i) => entry.file(`./file${i}`, Buffer.alloc(1024 * 1024, 'x')));
    members[1] = { name: 'control.tar.gz', content: await controlArchive(files) };
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(path, 'opk.too-large', `${path}: control.tar.gz: larger than 16777216 bytes once decompressed`);
  });

  test('unparsable control file keeps its own error, located in the package', async () => {
    const members = await standardMembers();
    members[1] = { name: 'control.tar.gz', content: await controlArchive([], 'Package: hello\nno colon here\n') };
    const path = await buildOpk(await tempDir(), 'ar', members);
    await expectFormatError(
      path,
      'control.malformed-line',
      `${path}: control.tar.gz/control:2: malformed line (expected "Field: value"): "no colon here"`,
    );
  });

  test('maxDataSize exceeded (a decompression bomb)', async () => {
    const path = await opkWithData([entry.file('./zeros', Buffer.alloc(1024 * 1024))], 'xz');
    await expectFormatError(
      path,
      'opk.too-large',
      `${path}: data.tar.xz: larger than 65536 bytes once decompressed (Unpacked-Size-Limit)`,
      { maxDataSize: 65536 },
    );
    // Within the limit, the same package reads.
    await expect(readOpk(path, { maxDataSize: 2 * 1024 * 1024 })).resolves.toMatchObject({ data: { entries: 2 } });
  });
});

describe('unsafe data entries', () => {
  test('absolute path', async () => {
    const path = await opkWithData([entry.file('/etc/passwd', 'root::0:0::/:/bin/sh\n')]);
    await expectFormatError(path, 'opk.unsafe-entry', `${path}: data.tar.gz: entry "/etc/passwd": absolute path`);
  });

  test('../ traversal', async () => {
    const path = await opkWithData([entry.dir('./usr/'), entry.file('./usr/../../etc/passwd', 'x')]);
    await expectFormatError(path, 'opk.unsafe-entry', `${path}: data.tar.gz: entry "./usr/../../etc/passwd": path has a ".." component`);
  });

  test('symlink escaping the root', async () => {
    const path = await opkWithData([entry.dir('./usr/'), entry.dir('./usr/bin/'), entry.symlink('./usr/bin/x', '../../../../etc')]);
    await expectFormatError(
      path,
      'opk.unsafe-entry',
      `${path}: data.tar.gz: entry "./usr/bin/x": symlink to "../../../../etc" escapes the package root`,
    );
  });

  test('symlinks that stay inside, relative or absolute, are fine', async () => {
    const path = await opkWithData([
      entry.dir('./usr/'),
      entry.dir('./usr/bin/'),
      entry.symlink('./usr/bin/up', '../../usr/lib/x'),
      entry.symlink('./usr/bin/abs', '/usr/lib/x'),
      entry.symlink('./usr/bin/etc', '/etc/alternatives/editor'),
    ]);
    await expect(readOpk(path)).resolves.toMatchObject({ data: { entries: 6 } });
  });

  test('entry through a symlink defined earlier', async () => {
    const path = await opkWithData([
      entry.dir('./usr/'),
      entry.dir('./usr/lib/'),
      entry.symlink('./usr/lib/evil', '/etc'),
      entry.file('./usr/lib/evil/passwd', 'root::0:0::/:/bin/sh\n'),
    ]);
    await expectFormatError(
      path,
      'opk.unsafe-entry',
      `${path}: data.tar.gz: entry "./usr/lib/evil/passwd": path goes through symlink "usr/lib/evil" defined earlier`,
    );
  });

  test('hard link to an absolute path', async () => {
    const path = await opkWithData([entry.link('./shadow', '/etc/shadow')]);
    await expectFormatError(path, 'opk.unsafe-entry', `${path}: data.tar.gz: entry "./shadow": hard link to absolute path "/etc/shadow"`);
  });

  test('hard link escaping the root', async () => {
    const path = await opkWithData([entry.link('./shadow', '../etc/shadow')]);
    await expectFormatError(
      path,
      'opk.unsafe-entry',
      `${path}: data.tar.gz: entry "./shadow": hard link to "../etc/shadow", which has a ".." component`,
    );
  });

  test('hard link to nothing earlier', async () => {
    const path = await opkWithData([entry.link('./a', './b'), entry.file('./b', 'b')]);
    await expectFormatError(
      path,
      'opk.unsafe-entry',
      `${path}: data.tar.gz: entry "./a": hard link to "./b", which is not an earlier file in the archive`,
    );
  });

  test('character device node', async () => {
    const path = await opkWithData([
      entry.dir('./dev/'),
      { header: { name: './dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 } },
    ]);
    await expectFormatError(path, 'opk.unsafe-entry', `${path}: data.tar.gz: entry "./dev/null": character device`);
  });

  test('block device node', async () => {
    const path = await opkWithData([{ header: { name: './sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 } }]);
    await expectFormatError(path, 'opk.unsafe-entry', `${path}: data.tar.gz: entry "./sda": block device`);
  });

  test('FIFO', async () => {
    const path = await opkWithData([{ header: { name: './fifo', type: 'fifo', mode: 0o644 } }], 'xz');
    await expectFormatError(path, 'opk.unsafe-entry', `${path}: data.tar.xz: entry "./fifo": FIFO`);
  });
});

describe('a missing decompressor', () => {
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  test('is an EnvironmentError naming the Debian package', async () => {
    const path = await opkWithData([entry.file('./a', 'a')], 'zstd');
    process.env.PATH = await tempDir();
    const error = await rejection(readOpk(path));
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.message).toBe(
      `zstd is not installed, and it is needed to decompress data.tar.zst in ${path}: install the Debian package zstd`,
    );
  });
});

test('fixtures: the members are what the tests think they are', async () => {
  // Guards the fixtures above: a valid package built the same way reads.
  const path = await buildOpk(await tempDir(), 'ar', await standardMembers());
  const opk = await readOpk(path);
  expect(opk.control.get('Package')).toBe('hello');
  expect((await readFile(path)).includes(Buffer.from('data.tar.gz/'))).toBe(true);
});
