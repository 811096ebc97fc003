/**
 * Hand-made uploads and packages for the hostile corpus (README.md here):
 * good uploads made with the real `source build` code, then broken on
 * purpose, and opk files assembled member by member (tar-stream and a small
 * ar writer accept any header), so that every kind of damage can be made.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { formatChanges, parseChanges } from '../../lib/formats/changes.js';
import { END_OF_ARCHIVE, encodeHeader } from '../../lib/opk/tar-write.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { entry, tarOf, type FixtureEntry } from '../opk/fixtures.js';
import { writeSourcePackage } from '../support/sources.js';

export const VERSION = '1.0';

/** `<source>_1.0.changes` and `<source>_1.0_src.opk`. */
export function uploadNames(source: string): { changes: string; opk: string } {
  return { changes: `${source}_${VERSION}.changes`, opk: `${source}_${VERSION}_src.opk` };
}

/**
 * Writes a good upload of `source` 1.0 (one binary package of the same name,
 * Architecture all) into `incoming`, made by the code `opkfarm source build`
 * runs, from an SPF tree written under `scratch`.
 */
export async function writeGoodUpload(incoming: string, scratch: string, source: string, version = VERSION): Promise<void> {
  await mkdir(scratch, { recursive: true });
  const parent = await mkdtemp(join(scratch, `spf-${source}-${version}-`));
  const directory = await writeSourcePackage(parent, { name: source, version, binaries: [{ name: source, architecture: 'all' }] });
  await buildSourcePackage(directory, { outputDirectory: incoming, sourceDateEpoch: 1_700_000_000 });
}

/** Rewrites the upload's .changes text. */
export async function editChanges(incoming: string, source: string, edit: (text: string) => string): Promise<void> {
  const path = join(incoming, uploadNames(source).changes);
  await writeFile(path, edit(await readFile(path, 'utf8')));
}

/** Replaces the upload's source package with `bytes` and lists their true size and hashes in the .changes. */
export async function replaceSourcePackage(incoming: string, source: string, bytes: Buffer): Promise<void> {
  const names = uploadNames(source);
  await writeFile(join(incoming, names.opk), bytes);
  const path = join(incoming, names.changes);
  const changes = parseChanges(await readFile(path, 'utf8'), path);
  const files = [{ name: names.opk, size: bytes.length, sha256: sha256(bytes), md5: createHash('md5').update(bytes).digest('hex') }];
  await writeFile(path, formatChanges({ ...changes, files }));
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The control text of `source`'s source package, with `fields` replacing or adding lines. */
export function sourceControl(source: string, fields: Readonly<Record<string, string>> = {}): string {
  const base: Record<string, string> = {
    Package: `src-${source}`,
    Version: VERSION,
    Architecture: 'src',
    Platform: 'all',
    Maintainer: 'Test Maintainer <maintainer@example.org>',
    Description: `source package of ${source}`,
    ...fields,
  };
  return Object.entries(base)
    .map(([name, value]) => `${name}: ${value}\n`)
    .join('');
}

/** The data entries of a well-formed SPF 2.0 tree for `source`, then `extra`. */
export function spfEntries(source: string, extra: readonly FixtureEntry[] = []): FixtureEntry[] {
  const tree = `./usr/src/${source}_${VERSION}`;
  return [
    entry.dir('./'),
    entry.dir('./usr/'),
    entry.dir('./usr/src/'),
    entry.dir(`${tree}/`),
    entry.file(`${tree}/format`, '2.0\n'),
    entry.file(`${tree}/control`, 'Maintainer: Test Maintainer <maintainer@example.org>\n'),
    entry.file(`${tree}/changelog`, `${source} (${VERSION}) trunk; urgency=low\n\n  * Test.\n\n -- Test Uploader <uploader@example.org>  Sat, 21 Nov 2026 12:00:00 +0000\n`),
    entry.file(`${tree}/build`, 'build:\ninstall:\n', 0o755),
    entry.dir(`${tree}/${source}.pkg/`),
    entry.file(`${tree}/${source}.pkg/control`, 'Architecture: all\nPlatform: all\nDescription: test\n'),
    ...extra,
  ];
}

/** A member of the outer archive. */
export interface Member {
  readonly name: string;
  readonly content: Buffer;
}

/** gzip-compressed control and data archives for `source`: the usual members, each replaceable. */
export async function standardMembers(
  source: string,
  options: { control?: string; controlEntries?: readonly FixtureEntry[]; data?: readonly FixtureEntry[] } = {},
): Promise<{ debianBinary: Member; control: Member; data: Member }> {
  const controlEntries = options.controlEntries ?? [entry.dir('./'), entry.file('./control', options.control ?? sourceControl(source))];
  return {
    debianBinary: { name: 'debian-binary', content: Buffer.from('2.0\n') },
    control: { name: 'control.tar.gz', content: gzipSync(await tarOf(controlEntries)) },
    data: { name: 'data.tar.gz', content: gzipSync(await tarOf(options.data ?? spfEntries(source))) },
  };
}

/** An opk of exactly these members: a gzip-compressed tar (what opkfarm writes), a plain tar, or an ar archive. */
export async function opkOf(members: readonly Member[], outer: 'tar.gz' | 'tar' | 'ar' = 'tar.gz'): Promise<Buffer> {
  if (outer === 'ar') return arOf(members);
  const tar = await tarOf(members.map((member) => entry.file(`./${member.name}`, member.content)));
  return outer === 'tar' ? tar : gzipSync(tar);
}

/** An ar archive (GNU names) of `members`. */
export function arOf(members: readonly Member[]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const member of members) {
    const field = (value: string, width: number) => value.padEnd(width, ' ');
    const header = `${field(`${member.name}/`, 16)}${field('0', 12)}${field('0', 6)}${field('0', 6)}${field('100644', 8)}${field(String(member.content.length), 10)}\`\n`;
    parts.push(Buffer.from(header, 'latin1'), member.content);
    if (member.content.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/**
 * A gzip-compressed tar that inflates to `gigabytes` GiB and change: `before`
 * entries, then one file of zeros that size. It is a few MB: gzip members
 * may be concatenated, so one compressed 16 MiB block of zeros is repeated.
 */
export async function gzipBomb(before: readonly FixtureEntry[], path: string, gigabytes: number): Promise<Buffer> {
  const block = 16 * 1024 * 1024;
  const size = gigabytes * 1024 * 1024 * 1024;
  const head = (await tarOf(before)).subarray(0, -END_OF_ARCHIVE.length);
  const header = encodeHeader({ path, type: 'file', mode: 0o644, size, mtime: 0 });
  const zeros = gzipSync(Buffer.alloc(block), { level: 9 });
  return Buffer.concat([gzipSync(Buffer.concat([head, header])), ...Array.from({ length: size / block }, () => zeros), gzipSync(END_OF_ARCHIVE)]);
}

/**
 * A zstd-compressed tar (compressed by the zstd tool) that inflates to
 * `megabytes` MiB: `before` entries, then one file of zeros that size.
 */
export async function zstdBomb(before: readonly FixtureEntry[], path: string, megabytes: number): Promise<Buffer> {
  const size = megabytes * 1024 * 1024;
  const head = Buffer.concat([(await tarOf(before)).subarray(0, -END_OF_ARCHIVE.length), encodeHeader({ path, type: 'file', mode: 0o644, size, mtime: 0 })]);
  const zeros = `head -c ${size} /dev/zero`;
  const result = await execa('sh', ['-c', `{ cat; ${zeros}; head -c ${END_OF_ARCHIVE.length} /dev/zero; } | zstd -q -c`], { input: head, encoding: 'buffer' });
  return Buffer.from(result.stdout);
}

/** Bytes that are no archive of any kind (deterministic). */
export function garbage(length: number, seed = 7): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = state >> 16;
  }
  return bytes;
}
