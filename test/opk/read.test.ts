import { chmod, mkdir, open, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, test } from 'vitest';

import { readOpk } from '../../lib/opk/read.js';
import { buildOpk, compress, type Kind, lines, type Listed, listed, type Member, run, tempDir } from './fixtures.js';

const CONTROL = 'Package: hello\nVersion: 1.0-1\nArchitecture: all\nPlatform: all\nMaintainer: Ann <ann@example.org>\nDescription: says hello\n';
const LONG_DIR = `usr/share/${'d'.repeat(90)}/${'e'.repeat(40)}`;
const LONG_TARGET = `../../${'t'.repeat(120)}`;

/** The entries GNU tar --sort=name writes for the tree made by toolArchives(). */
const TREE_ENTRIES: Listed[] = [
  { path: '.', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/bin', type: 'directory', size: 0, mode: 0o755 },
  { path: 'usr/bin/hello', type: 'file', size: 21, mode: 0o755 },
  { path: 'usr/bin/hi', type: 'symlink', size: 0, mode: 0o777, linkTarget: 'hello' },
  { path: 'usr/share', type: 'directory', size: 0, mode: 0o755 },
  { path: `usr/share/${'d'.repeat(90)}`, type: 'directory', size: 0, mode: 0o755 },
  { path: LONG_DIR, type: 'directory', size: 0, mode: 0o755 },
  { path: `${LONG_DIR}/file`, type: 'file', size: 5, mode: 0o644 },
  { path: `${LONG_DIR}/link`, type: 'symlink', size: 0, mode: 0o777, linkTarget: LONG_TARGET },
];

/**
 * control.tar.* and data.tar.* made by GNU tar and the real compressors from
 * a small tree with long names (GNU 'L'/'K' records, or pax with --format=pax).
 */
async function toolArchives(
  dir: string,
  kinds: { control: Kind; data: Kind },
  format: 'gnu' | 'pax' = 'gnu',
): Promise<{ control: Buffer; data: Buffer }> {
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'usr/bin'), { recursive: true });
  await mkdir(join(tree, LONG_DIR), { recursive: true });
  await writeFile(join(tree, 'usr/bin/hello'), '#!/bin/sh\necho hello\n');
  await chmod(join(tree, 'usr/bin/hello'), 0o755);
  await symlink('hello', join(tree, 'usr/bin/hi'));
  await writeFile(join(tree, LONG_DIR, 'file'), 'long\n');
  await symlink(LONG_TARGET, join(tree, LONG_DIR, 'link'));
  await run('chmod', ['-R', 'go=u-w', tree]);
  await chmod(join(tree, LONG_DIR, 'file'), 0o644);

  const controlDir = join(dir, 'ctl');
  await mkdir(controlDir);
  await writeFile(join(controlDir, 'control'), CONTROL);
  await writeFile(join(controlDir, 'postinst'), '#!/bin/sh\nexit 0\n');
  await chmod(controlDir, 0o755);

  const tar = (from: string): Promise<Buffer> =>
    run('tar', [`--format=${format}`, '--sort=name', '--owner=0', '--group=0', '-C', from, '-cf', '-', '.']);
  return {
    control: await compress(await tar(controlDir), kinds.control),
    data: await compress(await tar(tree), kinds.data),
  };
}

async function readAll(path: string): Promise<{ opk: Awaited<ReturnType<typeof readOpk>>; entries: Listed[] }> {
  const entries: Listed[] = [];
  const opk = await readOpk(path, { onDataEntry: (entry) => void entries.push(listed(entry)) });
  return { opk, entries };
}

describe('readOpk on packages made with the standard tools', () => {
  test('outer ar in dpkg order, xz-compressed data', async () => {
    const dir = await tempDir();
    const { control, data } = await toolArchives(dir, { control: 'gzip', data: 'xz' });
    const path = await buildOpk(dir, 'ar', [
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', content: control },
      { name: 'data.tar.xz', content: data },
    ]);
    expect((await readFile(path)).subarray(0, 8).toString()).toBe('!<arch>\n');

    const { opk, entries } = await readAll(path);
    expect(opk.outerFormat).toBe('ar');
    expect(opk.compression).toEqual({ control: 'gzip', data: 'xz' });
    expect(opk.control.get('Package')).toBe('hello');
    expect(opk.control.get('Description')).toBe('says hello');
    expect(opk.controlFiles.get('postinst')?.toString()).toBe('#!/bin/sh\nexit 0\n');
    expect(opk.controlFiles.get('control')?.toString()).toBe(CONTROL);
    expect(entries).toEqual(TREE_ENTRIES);
    expect(opk.data).toEqual({ entries: TREE_ENTRIES.length, totalSize: 26 });
  });

  test('bzip2-compressed inner archives in a gzip-compressed tar', async () => {
    const dir = await tempDir();
    const { control, data } = await toolArchives(dir, { control: 'bzip2', data: 'bzip2' });
    const path = await buildOpk(dir, 'tar.gz', [
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.bz2', content: control },
      { name: 'data.tar.bz2', content: data },
    ]);
    const { opk, entries } = await readAll(path);
    expect(opk.outerFormat).toBe('tar.gz');
    expect(opk.compression).toEqual({ control: 'bzip2', data: 'bzip2' });
    expect(opk.control.get('Version')).toBe('1.0-1');
    expect(entries).toEqual(TREE_ENTRIES);
  });

  test('zstd-compressed inner archives in an ar, pax-format tars', async () => {
    const dir = await tempDir();
    const { control, data } = await toolArchives(dir, { control: 'zstd', data: 'zstd' }, 'pax');
    const path = await buildOpk(dir, 'ar', [
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.zst', content: control },
      { name: 'data.tar.zst', content: data },
    ]);
    const { opk, entries } = await readAll(path);
    expect(opk.compression).toEqual({ control: 'zstd', data: 'zstd' });
    expect(entries).toEqual(TREE_ENTRIES);
  });

  test('a plain (uncompressed) outer tar, uncompressed data, old opkg-build member order', async () => {
    const dir = await tempDir();
    const { control, data } = await toolArchives(dir, { control: 'gzip', data: 'none' });
    const path = await buildOpk(dir, 'tar', [
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'data.tar', content: data },
      { name: 'control.tar.gz', content: control },
    ]);
    expect(await lines('tar', ['-tf', path])).toEqual(['./debian-binary', './data.tar', './control.tar.gz']);
    const { opk, entries } = await readAll(path);
    expect(opk.outerFormat).toBe('tar');
    expect(opk.compression).toEqual({ control: 'gzip', data: 'none' });
    expect(entries).toEqual(TREE_ENTRIES);
  });

  test('compression is detected by magic bytes, not by member name', async () => {
    const dir = await tempDir();
    const { control, data } = await toolArchives(dir, { control: 'gzip', data: 'xz' });
    const members: Member[] = [
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.xz', content: control }, // really gzip
      { name: 'data.tar.gz', content: data }, // really xz
    ];
    const path = await buildOpk(dir, 'ar', members);
    const { opk, entries } = await readAll(path);
    expect(opk.compression).toEqual({ control: 'gzip', data: 'xz' });
    expect(entries).toEqual(TREE_ENTRIES);
  });

  test('a large data member streams through with all its bytes counted', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await mkdir(tree);
    // 24 MiB of compressible but varied text.
    const line = (i: number): string => `line ${i} ${(i * 2654435761) % 1000003}\n`;
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 24 * 1024 * 1024; i++) {
      const text = line(i);
      lines.push(text);
      size += text.length;
    }
    await writeFile(join(tree, 'big.txt'), lines.join(''));
    const data = await compress(await run('tar', ['--owner=0', '--group=0', '-C', tree, '-cf', '-', '.']), 'zstd');
    const control = await compress(await run('tar', ['-C', await controlOnly(dir), '-cf', '-', '.']), 'gzip');
    const path = await buildOpk(dir, 'ar', [
      { name: 'debian-binary', content: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', content: control },
      { name: 'data.tar.zst', content: data },
    ]);
    const { opk, entries } = await readAll(path);
    expect(entries.map((entry) => [entry.path, entry.size])).toEqual([
      ['.', 0],
      ['big.txt', size],
    ]);
    expect(opk.data.totalSize).toBe(size);
  });
});

test('onDataEntry may read a body, part of it, or none of it', async () => {
  const dir = await tempDir();
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await writeFile(join(tree, 'a-big'), Buffer.alloc(3 * 1024 * 1024, 'a'));
  await writeFile(join(tree, 'b-skipped'), 'not read\n');
  await writeFile(join(tree, 'c-small'), 'read whole\n');
  const data = await compress(await run('tar', ['--sort=name', '-C', tree, '-cf', '-', '.']), 'xz');
  const control = await compress(await run('tar', ['-C', await controlOnly(dir), '-cf', '-', '.']), 'gzip');
  const path = await buildOpk(dir, 'ar', [
    { name: 'debian-binary', content: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', content: control },
    { name: 'data.tar.xz', content: data },
  ]);
  const read = new Map<string, string>();
  await readOpk(path, {
    onDataEntry: async (entry) => {
      if (entry.path === 'a-big') {
        for await (const chunk of entry.body as AsyncIterable<Buffer>) {
          read.set(entry.path, chunk.subarray(0, 3).toString());
          break;
        }
      } else if (entry.path === 'c-small') {
        let text = '';
        for await (const chunk of entry.body as AsyncIterable<Buffer>) text += chunk.toString();
        read.set(entry.path, text);
      }
    },
  });
  expect(read).toEqual(new Map([['a-big', 'aaa'], ['c-small', 'read whole\n']]));
});

async function controlOnly(dir: string): Promise<string> {
  const controlDir = join(dir, 'control-only');
  await mkdir(controlDir);
  await writeFile(join(controlDir, 'control'), CONTROL);
  return controlDir;
}

test('reads from a handle the caller opened, names the path in messages, and closes the handle', async () => {
  const dir = await tempDir();
  const { control, data } = await toolArchives(dir, { control: 'gzip', data: 'gzip' });
  const path = await buildOpk(dir, 'ar', [
    { name: 'debian-binary', content: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', content: control },
    { name: 'data.tar.gz', content: data },
  ]);
  const handle = await open(path, 'r');
  // Moved away after opening: only the handle can still reach the package.
  await rename(path, `${path}.moved`);
  const opk = await readOpk(path, { handle });
  expect(opk.control.get('Package')).toBe('hello');
  expect(handle.fd).toBe(-1);

  await writeFile(join(dir, 'not-an-opk'), 'plain text\n');
  const other = await open(join(dir, 'not-an-opk'), 'r');
  await expect(readOpk('shown-name.opk', { handle: other })).rejects.toThrow(/^shown-name\.opk: not an opk/);
  expect(other.fd).toBe(-1);
});
