/**
 * scanOpk against readOpk: the same control fields, the digests of the
 * whole file, the data file asked for, and the same verdict with the same
 * message on broken and unsafe packages, whichever path (in memory for small
 * tar/gzip packages, streaming otherwise) reads them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, test } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import { Stanza } from '../../lib/formats/control.js';
import { readOpk } from '../../lib/opk/read.js';
import { scanOpk, SMALL_PACKAGE } from '../../lib/opk/scan.js';
import { writeOpk } from '../../lib/opk/write.js';
import {
  buildOpk,
  compress,
  controlArchive,
  dataArchive,
  entry,
  type FixtureEntry,
  type Member,
  rejection,
  standardMembers,
  tarOf,
  tempDir,
  truncatedCopy,
} from './fixtures.js';

const CHANGELOG = 'usr/src/hello_1.0-1/changelog';

async function digestsOf(path: string): Promise<{ size: number; sha256: string; md5: string }> {
  const content = await readFile(path);
  return {
    size: content.length,
    sha256: createHash('sha256').update(content).digest('hex'),
    md5: createHash('md5').update(content).digest('hex'),
  };
}

/** writeOpk's package of a tree holding the change log and `noise` random bytes (incompressible: the opk is at least that big). */
async function writtenOpk(noise: number): Promise<string> {
  const dir = await tempDir();
  const tree = join(dir, 'tree', 'usr/src/hello_1.0-1');
  await mkdir(tree, { recursive: true });
  await writeFile(join(tree, 'changelog'), 'hello (1.0-1) trunk; urgency=low\n');
  await writeFile(join(tree, 'noise'), randomBytes(noise));
  const destination = join(dir, 'hello.opk');
  const control = new Stanza([
    ['Package', 'src-hello'],
    ['Version', '1.0-1'],
    ['Description', 'says hello\n More.'],
  ]);
  await writeOpk({ destination, control, dataDirectory: join(dir, 'tree'), sourceDateEpoch: 0 });
  return destination;
}

/** Asserts that both readers refuse `path` with the same FormatError. */
async function expectSameRefusal(path: string): Promise<FormatError> {
  const [streamed, scanned] = [await rejection(readOpk(path)), await rejection(scanOpk(path))];
  expect(streamed).toBeInstanceOf(FormatError);
  expect({ name: scanned.name, code: (scanned as FormatError).code, message: scanned.message }).toEqual({
    name: streamed.name,
    code: (streamed as FormatError).code,
    message: streamed.message,
  });
  return scanned as FormatError;
}

/** A small gzip-compressed tar opk (the in-memory path) with these members. */
async function smallOpk(members: readonly Member[]): Promise<string> {
  return buildOpk(await tempDir(), 'tar.gz', members);
}

async function withData(entries: readonly FixtureEntry[]): Promise<string> {
  return smallOpk(await standardMembers({ name: 'data.tar.gz', content: await dataArchive('gzip', [entry.dir('./'), ...entries]) }));
}

describe('scanOpk reads what readOpk reads', () => {
  test.each([
    ['a small package, in memory', 1024],
    ['a package larger than SMALL_PACKAGE, streamed', SMALL_PACKAGE + 4096],
  ])('%s: control, digests of the whole file, the data file', async (_, noise) => {
    const path = await writtenOpk(noise);
    const scanned = await scanOpk(path, { dataFile: CHANGELOG });
    expect(scanned.control.entries()).toEqual((await readOpk(path)).control.entries());
    expect(scanned.digests).toEqual(await digestsOf(path));
    expect(scanned.dataFile?.toString()).toBe('hello (1.0-1) trunk; urgency=low\n');
    expect((await scanOpk(path, { dataFile: 'usr/src/hello_1.0-1/absent' })).dataFile).toBeUndefined();
  });

  test.each(['ar', 'tar'] as const)('outer archive %s, xz data member (streamed)', async (outer) => {
    const data = await compress(await tarOf([entry.dir('./'), entry.dir('./usr/'), entry.file('./usr/x', 'x\n')]), 'xz');
    const path = await buildOpk(await tempDir(), outer, await standardMembers({ name: 'data.tar.xz', content: data }));
    const scanned = await scanOpk(path, { dataFile: 'usr/x' });
    expect(scanned.control.get('Package')).toBe('hello');
    expect(scanned.digests).toEqual(await digestsOf(path));
    expect(scanned.dataFile?.toString()).toBe('x\n');
  });
});

describe('scanOpk refuses what readOpk refuses, with the same message', () => {
  test('a truncated package', async () => {
    const error = await expectSameRefusal(await truncatedCopy(await writtenOpk(4096)));
    expect(error.code).toBe('opk.truncated');
  });

  test('missing and unexpected members', async () => {
    const members = await standardMembers();
    await expectSameRefusal(await smallOpk(members.filter((member) => member.name !== 'data.tar.gz')));
    await expectSameRefusal(await smallOpk(members.filter((member) => member.name !== 'debian-binary')));
    await expectSameRefusal(await smallOpk([...members, { name: 'extra.txt', content: Buffer.from('hi\n') }]));
    await expectSameRefusal(await smallOpk([...members, { name: 'data.tar', content: await dataArchive('none') }]));
    await expectSameRefusal(await smallOpk([{ name: 'debian-binary', content: Buffer.from('3.0\n') }, ...members.slice(1)]));
  });

  test('broken control archives', async () => {
    const [debianBinary, , data] = (await standardMembers()) as [Member, Member, Member];
    for (const control of [
      await controlArchive([entry.file('./postinst', '#!/bin/sh\n', 0o755)], null),
      await controlArchive([entry.dir('./scripts/')]),
      await controlArchive([], 'Package: hello\nno colon here\n'),
    ]) {
      await expectSameRefusal(await smallOpk([debianBinary, { name: 'control.tar.gz', content: control }, data]));
    }
  });

  test('truncated and corrupt data members', async () => {
    const data = await dataArchive('gzip', [entry.dir('./'), entry.file('./noise', randomBytes(16 * 1024))]);
    await expectSameRefusal(await smallOpk(await standardMembers({ name: 'data.tar.gz', content: data.subarray(0, data.length / 2) })));
    const corrupt = Buffer.from(data);
    corrupt.fill(0, corrupt.length - 8, corrupt.length - 4);
    await expectSameRefusal(await smallOpk(await standardMembers({ name: 'data.tar.gz', content: corrupt })));
    const tar = await tarOf([entry.dir('./'), entry.file('./a', 'a\n')]);
    await expectSameRefusal(await smallOpk(await standardMembers({ name: 'data.tar', content: tar.subarray(0, 3 * 512) })));
  });

  test.each<[string, FixtureEntry[]]>([
    ['an absolute path', [entry.file('/etc/passwd', 'x')]],
    ['a .. component', [entry.file('./usr/../../etc/passwd', 'x')]],
    ['a symlink escaping the root', [entry.symlink('./x', '../../etc')]],
    ['a symlink escaping through a later symlink', [entry.symlink('./a', 'b/../x'), entry.symlink('./b', '.')]],
    ['a hard link to nothing earlier', [entry.link('./a', './b'), entry.file('./b', 'b')]],
    ['a device', [{ header: { name: './sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 } }]],
  ])('an unsafe data entry: %s', async (_, entries) => {
    const path = await withData(entries);
    expect((await expectSameRefusal(path)).code).toBe('opk.unsafe-entry');
    // Unless the caller leaves the data archive alone.
    expect((await scanOpk(path, { checkData: false })).control.get('Package')).toBe('hello');
  });
});
