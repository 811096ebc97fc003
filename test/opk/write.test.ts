import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { execa } from 'execa';
import { extract as tarExtract, type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { EnvironmentError, FormatError } from '../../lib/errors.js';
import { Stanza } from '../../lib/formats/control.js';
import { readOpk } from '../../lib/opk/read.js';
import { writeOpk } from '../../lib/opk/write.js';
import { lines, type Listed, listed, rejection, run, tempDir } from './fixtures.js';

const EPOCH = 1_700_000_000;
const LONG_NAME = 'n'.repeat(150);

const control = new Stanza([
  ['Package', 'hello'],
  ['Version', '1.0-1'],
  ['Architecture', 'all'],
  ['Platform', 'all'],
  ['Maintainer', 'Ann <ann@example.org>'],
  ['Description', 'says hello\n A longer text\n .\n with a paragraph.'],
]);

const controlFiles = [
  { name: 'postinst', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
  { name: 'conffiles', content: Buffer.from('/etc/secret\n'), mode: 0o644 },
];

/** Regular files of the sample tree with their content and mode. */
const FILES: ReadonlyArray<readonly [string, string, number]> = [
  ['etc/secret', 'password=1\n', 0o600],
  ['usr/bin/hello', '#!/bin/sh\necho hello\n', 0o755],
  ['usr/bin/suid', 'setuid\n', 0o4755],
  ['usr/lib/libx.so.1', 'ELF-ish', 0o644],
  ['usr/share/doc/hello/copyright', 'GPL\n', 0o644],
  ['usr/share/doc/hello/naïve-ü.txt', 'unicode name\n', 0o644],
  [`usr/share/doc/hello/${LONG_NAME}`, 'long name\n', 0o644],
  ['usr/share/empty', '', 0o644],
];

/** The data entries readOpk must report for the sample tree, in archive (byte) order. */
const EXPECTED: Listed[] = [
  { path: '.', type: 'directory', size: 0, mode: 0o755 },
  { path: 'etc', type: 'directory', size: 0, mode: 0o755 },
  { path: 'etc/secret', type: 'file', size: 11, mode: 0o600 },
  { path: 'usr', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/bin', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/bin/hello', type: 'file', size: 21, mode: 0o755 },
  { path: 'usr/bin/hi', type: 'symlink', size: 0, mode: 0o777, linkTarget: 'hello' },
  { path: 'usr/bin/suid', type: 'file', size: 7, mode: 0o4755 },
  { path: 'usr/lib', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/lib/libx.so', type: 'symlink', size: 0, mode: 0o777, linkTarget: '/usr/lib/libx.so.1' },
  { path: 'usr/lib/libx.so.1', type: 'file', size: 7, mode: 0o644 },
  { path: 'usr/share', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/share/doc', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/share/doc/hello', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/share/doc/hello/copyright', type: 'file', size: 4, mode: 0o644 },
  {
    path: 'usr/share/doc/hello/copyright.hard',
    type: 'link',
    size: 0,
    mode: 0o644,
    linkTarget: 'usr/share/doc/hello/copyright',
  },
  { path: 'usr/share/doc/hello/naïve-ü.txt', type: 'file', size: 13, mode: 0o644 },
  { path: `usr/share/doc/hello/${LONG_NAME}`, type: 'file', size: 10, mode: 0o644 },
  { path: 'usr/share/empty', type: 'file', size: 0, mode: 0o644 },
  { path: 'var', type: 'directory', size: 0, mode: 0o755 },
  { path: 'var/empty', type: 'directory', size: 0, mode: 0o755 },
];

async function makeTree(root: string): Promise<void> {
  for (const dir of ['etc', 'usr/bin', 'usr/lib', 'usr/share/doc/hello', 'var/empty']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  for (const [path, content, mode] of FILES) {
    await writeFile(join(root, path), content);
    await chmod(join(root, path), mode);
  }
  await symlink('hello', join(root, 'usr/bin/hi'));
  await symlink('/usr/lib/libx.so.1', join(root, 'usr/lib/libx.so'));
  await link(join(root, 'usr/share/doc/hello/copyright'), join(root, 'usr/share/doc/hello/copyright.hard'));
  for (const dir of ['.', 'etc', 'usr', 'usr/bin', 'usr/lib', 'usr/share', 'usr/share/doc', 'usr/share/doc/hello', 'var', 'var/empty']) {
    await chmod(join(root, dir), 0o755);
  }
}

/** Header of a gzip-compressed tar, read with tar-stream (an independent reader). */
async function tarHeader(gzipped: Buffer): Promise<Header[]> {
  const extract = tarExtract();
  extract.end(gunzipSync(gzipped));
  const headers: Header[] = [];
  for await (const item of extract) {
    headers.push(item.header);
    item.resume();
  }
  return headers;
}

/** The members of an opk written by writeOpk, as buffers. */
async function members(opk: string): Promise<Map<string, Buffer>> {
  const extract = tarExtract();
  extract.end(gunzipSync(await readFile(opk)));
  const result = new Map<string, Buffer>();
  for await (const item of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of item) chunks.push(chunk as Buffer);
    result.set(item.header.name, Buffer.concat(chunks));
  }
  return result;
}

let savedEpoch: string | undefined;
beforeEach(() => {
  savedEpoch = process.env.SOURCE_DATE_EPOCH;
  delete process.env.SOURCE_DATE_EPOCH;
});
afterEach(() => {
  if (savedEpoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = savedEpoch;
});

describe('writeOpk then readOpk', () => {
  test('gives back the control fields, control files and data entries', async () => {
    const dir = await tempDir();
    await makeTree(join(dir, 'tree'));
    const destination = join(dir, 'hello_1.0-1_all.opk');
    await writeOpk({ destination, control, controlFiles, dataDirectory: join(dir, 'tree'), sourceDateEpoch: EPOCH });

    const seen: Listed[] = [];
    const contents = new Map<string, string>();
    const opk = await readOpk(destination, {
      onDataEntry: async (entry) => {
        seen.push(listed(entry));
        if (entry.type !== 'file') return;
        let text = '';
        for await (const chunk of entry.body as AsyncIterable<Buffer>) text += chunk.toString('utf8');
        contents.set(entry.path, text);
      },
    });

    expect(opk.control.entries()).toEqual(control.entries());
    expect([...opk.controlFiles.keys()].sort()).toEqual(['conffiles', 'control', 'postinst']);
    expect(opk.controlFiles.get('postinst')?.toString()).toBe('#!/bin/sh\nexit 0\n');
    expect(opk.controlFiles.get('conffiles')?.toString()).toBe('/etc/secret\n');
    expect(seen).toEqual(EXPECTED);
    expect(contents).toEqual(new Map(FILES.map(([path, content]) => [path, content])));
    expect(opk.data).toEqual({ entries: EXPECTED.length, totalSize: 11 + 21 + 7 + 7 + 4 + 13 + 10 });
    expect(opk.outerFormat).toBe('tar.gz');
    expect(opk.compression).toEqual({ control: 'gzip', data: 'gzip' });
  });

  test('writes what GNU tar lists and extracts as the same tree', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await makeTree(tree);
    const destination = join(dir, 'hello.opk');
    await writeOpk({ destination, control, controlFiles, dataDirectory: tree, sourceDateEpoch: EPOCH });

    expect(await lines('tar', ['-tzf', destination])).toEqual(['./debian-binary', './control.tar.gz', './data.tar.gz']);
    const outer = join(dir, 'outer');
    await mkdir(outer);
    await run('tar', ['-xzf', destination, '-C', outer]);
    expect(await readFile(join(outer, 'debian-binary'), 'utf8')).toBe('2.0\n');

    expect(await lines('tar', ['-tvzf', join(outer, 'control.tar.gz')])).toEqual([
      'drwxr-xr-x root/root         0 2023-11-14 22:13 ./',
      '-rw-r--r-- root/root        12 2023-11-14 22:13 ./conffiles',
      '-rw-r--r-- root/root       157 2023-11-14 22:13 ./control',
      '-rwxr-xr-x root/root        17 2023-11-14 22:13 ./postinst',
    ]);
    const names = await lines('tar', ['--quoting-style=literal', '-tzf', join(outer, 'data.tar.gz')]);
    expect(names).toEqual(
      EXPECTED.map((entry) => (entry.path === '.' ? './' : `./${entry.path}${entry.type === 'directory' ? '/' : ''}`)),
    );
    const owners = await lines('tar', ['-tvzf', join(outer, 'data.tar.gz')]);
    expect(owners.every((line) => line.split(/\s+/)[1] === 'root/root')).toBe(true);

    const unpacked = join(dir, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzpf', join(outer, 'data.tar.gz'), '-C', unpacked]);
    for (const [path, content, mode] of FILES) {
      expect(await readFile(join(unpacked, path), 'utf8')).toBe(content);
      expect((await stat(join(unpacked, path))).mode & 0o7777).toBe(mode);
    }
    expect(await readlink(join(unpacked, 'usr/bin/hi'))).toBe('hello');
    expect(await readlink(join(unpacked, 'usr/lib/libx.so'))).toBe('/usr/lib/libx.so.1');
    const original = await stat(join(unpacked, 'usr/share/doc/hello/copyright'));
    const hard = await stat(join(unpacked, 'usr/share/doc/hello/copyright.hard'));
    expect(hard.ino).toBe(original.ino);
    expect(await readdir(join(unpacked, 'var/empty'))).toEqual([]);
  });
  test('the root entry "./" is 0755 even from a 0700 staging directory; other modes are kept', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await makeTree(tree);
    await chmod(tree, 0o700);
    await chmod(join(tree, 'var/empty'), 0o700);
    const destination = join(dir, 'hello.opk');
    const modes = new Map<string, number>();
    await writeOpk({ destination, control, dataDirectory: tree, sourceDateEpoch: EPOCH });
    await readOpk(destination, { onDataEntry: (item) => void modes.set(item.path, item.mode) });
    expect(modes.get('.')).toBe(0o755);
    expect(modes.get('var/empty')).toBe(0o700);
  });
});

describe('determinism', () => {
  test('same tree and epoch give the same bytes, whatever the files\' mtimes', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await makeTree(tree);
    const first = join(dir, 'first.opk');
    await writeOpk({ destination: first, control, controlFiles, dataDirectory: tree, sourceDateEpoch: EPOCH });

    await utimes(join(tree, 'usr/bin/hello'), 1_000, 2_000);
    await utimes(join(tree, 'usr'), 3_000, 4_000);
    const second = join(dir, 'second.opk');
    await writeOpk({ destination: second, control, controlFiles, dataDirectory: tree, sourceDateEpoch: EPOCH });
    expect((await readFile(second)).equals(await readFile(first))).toBe(true);

    process.env.SOURCE_DATE_EPOCH = String(EPOCH);
    const third = join(dir, 'third.opk');
    await writeOpk({ destination: third, control, controlFiles, dataDirectory: tree });
    expect((await readFile(third)).equals(await readFile(first))).toBe(true);

    // The epoch is what makes them equal: another one gives other bytes.
    const other = join(dir, 'other.opk');
    await writeOpk({ destination: other, control, controlFiles, dataDirectory: tree, sourceDateEpoch: EPOCH + 1 });
    expect((await readFile(other)).equals(await readFile(first))).toBe(false);
  });

  test('every mtime, outer and inner, is the epoch', async () => {
    const dir = await tempDir();
    await makeTree(join(dir, 'tree'));
    const destination = join(dir, 'hello.opk');
    process.env.SOURCE_DATE_EPOCH = String(EPOCH);
    await writeOpk({ destination, control, controlFiles, dataDirectory: join(dir, 'tree') });

    const outer = await members(destination);
    expect([...outer.keys()]).toEqual(['./debian-binary', './control.tar.gz', './data.tar.gz']);
    const headers = [
      ...(await tarHeader(await readFile(destination))),
      ...(await tarHeader(outer.get('./control.tar.gz') as Buffer)),
      ...(await tarHeader(outer.get('./data.tar.gz') as Buffer)),
    ];
    expect(headers).toHaveLength(3 + 4 + EXPECTED.length);
    for (const header of headers) {
      expect(header.mtime?.getTime()).toBe(EPOCH * 1000);
      expect([header.uid, header.gid, header.uname, header.gname]).toEqual([0, 0, 'root', 'root']);
    }
  });

  test('without an epoch, data entries keep their mtimes and members get the current time', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await makeTree(tree);
    await utimes(join(tree, 'usr/bin/hello'), 1_234_567_890, 1_234_567_890);
    const destination = join(dir, 'hello.opk');
    const before = Math.floor(Date.now() / 1000);
    await writeOpk({ destination, control, dataDirectory: tree });
    const after = Math.ceil(Date.now() / 1000);

    const outer = await members(destination);
    const data = await tarHeader(outer.get('./data.tar.gz') as Buffer);
    expect(data.find((header) => header.name === './usr/bin/hello')?.mtime?.getTime()).toBe(1_234_567_890_000);
    for (const header of await tarHeader(await readFile(destination))) {
      const seconds = header.mtime.getTime() / 1000;
      expect(seconds).toBeGreaterThanOrEqual(before);
      expect(seconds).toBeLessThanOrEqual(after);
    }
  });
});

describe('writeOpk refuses', () => {
  test('special files in the tree, leaving nothing behind', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await makeTree(tree);
    const fifo = join(tree, 'usr/bin/fifo');
    await execa('mkfifo', [fifo]);
    const destination = join(dir, 'out', 'hello.opk');
    await mkdir(join(dir, 'out'));

    const error = await rejection(writeOpk({ destination, control, dataDirectory: tree, sourceDateEpoch: EPOCH }));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).code).toBe('opk.unsafe-entry');
    expect(error.message).toBe(`${fifo}: FIFO: a package holds only files, directories and links`);
    expect(await readdir(join(dir, 'out'))).toEqual([]);
  });

  test('a symlink that escapes the tree', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await makeTree(tree);
    await symlink('../../../../etc', join(tree, 'usr/bin/escape'));

    const error = await rejection(
      writeOpk({ destination: join(dir, 'x.opk'), control, dataDirectory: tree, sourceDateEpoch: EPOCH }),
    );
    expect((error as FormatError).code).toBe('opk.unsafe-entry');
    expect(error.message).toBe(`${tree}: entry "./usr/bin/escape": symlink to "../../../../etc" escapes the package root`);
    expect(await readdir(dir)).toEqual(['tree']);
  });

  test('bad options, naming them', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await mkdir(tree);
    const destination = join(dir, 'x.opk');
    await expect(writeOpk({ destination, control, dataDirectory: tree, sourceDateEpoch: -1 })).rejects.toThrow(
      new RangeError('writeOpk: sourceDateEpoch must be a non-negative integer (seconds), got -1'),
    );
    await expect(
      writeOpk({ destination, control, dataDirectory: tree, controlFiles: [{ name: '../postinst', content: '', mode: 0o755 }] }),
    ).rejects.toThrow(new RangeError('writeOpk: controlFiles[0].name "../postinst" is not a plain file name'));
    await expect(
      writeOpk({ destination, control, dataDirectory: tree, controlFiles: [{ name: 'control', content: '', mode: 0o644 }] }),
    ).rejects.toThrow('writeOpk: controlFiles[0].name "control" is given twice');
    process.env.SOURCE_DATE_EPOCH = 'yesterday';
    const error = await rejection(writeOpk({ destination, control, dataDirectory: tree }));
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.message).toBe('SOURCE_DATE_EPOCH must be a non-negative integer (seconds), got "yesterday"');
    expect(await readdir(dir)).toEqual(['tree']);
  });
});

test('a failure while streaming the data removes the temporary files', async () => {
  const dir = await tempDir();
  const tree = join(dir, 'tree');
  await mkdir(tree);
  // Random data compresses slowly enough to remove the later file while the first is being packed.
  await writeFile(join(tree, 'a-big'), randomBytes(48 * 1024 * 1024));
  await writeFile(join(tree, 'z-late'), 'removed once scanned\n');
  const out = join(dir, 'out');
  await mkdir(out);
  const destination = join(out, 'big.opk');

  const writing = rejection(writeOpk({ destination, control, dataDirectory: tree, sourceDateEpoch: EPOCH }));
  // The data temporary appears once the tree has been scanned.
  while ((await readdir(out)).length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  expect((await readdir(out))[0]).toMatch(/^\.tmp-[0-9a-f]+-big\.opk\.data\.tar\.gz$/);
  await unlink(join(tree, 'z-late'));

  const error = await writing;
  expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  expect(await readdir(out)).toEqual([]);
  await expect(lstat(destination)).rejects.toThrow(/ENOENT/);
});
