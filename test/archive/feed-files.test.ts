/**
 * Packages.gz in chunks (packages-gz.ts) and a section feed kept between
 * writes (feed-section.ts): the gzip file is one file to gunzip and zcat,
 * a function of the Packages text, and a change compresses its chunk only.
 *
 * opkg reads feed indexes through libarchive, and embedded systems often
 * through busybox's gunzip/zcat: both read every member of a chunked
 * Packages.gz (checked with bsdcat 3.6.2 / libarchive 3.6.2 and BusyBox
 * v1.35.0, Debian 12), here on a large feed and on a feed archived wrote.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { SectionFeed } from '../../lib/archive/feed-section.js';
import { includeEntry } from '../../lib/archive/include.js';
import { chunkStarts, gzipPackages, splitMembers, startsChunk } from '../../lib/archive/packages-gz.js';
import { makeEntry, queueRoot, tempDir } from './fixtures.js';

/** A stanza as the index writes it. */
function stanza(pkg: string, version = '1.0-1'): { package: string; version: string; text: string } {
  return { package: pkg, version, text: `Package: ${pkg}\nVersion: ${version}\nArchitecture: all\nDescription: ${pkg}\n long text é\n` };
}

type Stanza = ReturnType<typeof stanza>;

/** The Packages file of sorted stanzas, and where each starts in it. */
function filesOf(stanzas: Stanza[]): { stanzas: Stanza[]; packages: Buffer; offsets: number[] } {
  const offsets: number[] = [];
  let at = 0;
  for (const entry of stanzas) {
    offsets.push(at);
    at += Buffer.byteLength(entry.text) + 1;
  }
  return { stanzas, packages: Buffer.from(stanzas.map((entry) => entry.text).join('\n')), offsets };
}

/** N stanzas, sorted, with their Packages file. */
function feedOf(count: number): { stanzas: Stanza[]; packages: Buffer; offsets: number[] } {
  return filesOf(Array.from({ length: count }, (_, i) => stanza(`pkg${String(i).padStart(5, '0')}`)));
}

describe('Packages.gz in chunks', () => {
  it('is one gzip file of several members, which gunzip and zcat read as the Packages text', async () => {
    const { stanzas, packages, offsets } = feedOf(2000);
    const gz = gzipPackages(packages, stanzas, offsets);
    const members = splitMembers(gz);
    expect(members?.length).toBe(chunkStarts(stanzas).length);
    expect(members?.length).toBeGreaterThan(5);
    expect(gunzipSync(gz).equals(packages)).toBe(true);
    const file = join(await tempDir(), 'Packages.gz');
    await writeFile(file, gz);
    expect(execFileSync('zcat', [file]).equals(packages)).toBe(true);
    expect(execFileSync('gzip', ['--test', file]).toString()).toBe('');
  });

  it('writes an empty feed as one empty member', () => {
    expect(gunzipSync(gzipPackages(Buffer.alloc(0), [], []))).toHaveLength(0);
  });
});

/** Whether `program` runs here (scripts/install-system-deps.sh installs it). */
function runs(program: string, args: readonly string[]): boolean {
  return spawnSync(program, args, { stdio: 'ignore' }).status === 0;
}

/** The gzip readers of opkg builds, each as the command that writes a file's data to stdout. */
const READERS = [
  { name: 'bsdcat (libarchive)', command: ['bsdcat'], present: runs('bsdcat', ['--version']) },
  { name: 'busybox zcat', command: ['busybox', 'zcat'], present: runs('busybox', ['zcat', '--help']) },
  { name: 'busybox gunzip -c', command: ['busybox', 'gunzip', '-c'], present: runs('busybox', ['gunzip', '--help']) },
] as const;

/** What `command` reads out of `file`. */
function readWith(command: readonly string[], file: string): Buffer {
  const [program, ...args] = command as [string, ...string[]];
  return execFileSync(program, [...args, file], { maxBuffer: 64 * 1024 * 1024 });
}

describe.each(READERS)('Packages.gz as $name reads it', ({ name, command, present }) => {
  const skipped = present ? '' : ` (skipped: ${command[0]} is missing: run scripts/install-system-deps.sh)`;

  it.skipIf(!present)(`is the whole Packages file, every member of a large feed${skipped}`, async () => {
    const { stanzas, packages, offsets } = feedOf(2000);
    const gz = gzipPackages(packages, stanzas, offsets);
    expect(splitMembers(gz)?.length).toBeGreaterThan(5);
    const file = join(await tempDir(), 'Packages.gz');
    await writeFile(file, gz);
    const read = readWith(command, file);
    expect(read.length, name).toBe(packages.length);
    expect(read.equals(packages), name).toBe(true);
  });

  it.skipIf(!present)(`is the whole Packages file of a feed archived wrote in several members${skipped}`, async () => {
    // Packages whose stanzas start chunks, so that one small upload makes a feed of four members.
    const names = Array.from({ length: 2000 }, (_, i) => `hello-part${i}`)
      .filter(startsChunk)
      .slice(0, 3);
    expect(names).toHaveLength(3);
    const layout = await queueRoot();
    await includeEntry(
      layout,
      await makeEntry(layout, {
        sequence: 1,
        source: 'hello',
        version: '1.0-1',
        builds: [{ architecture: 'all', packages: ['hello', ...names].map((pkg) => ({ package: pkg })) }],
      }),
    );
    const feed = join(layout.archive, 'feeds/dev/trunk/all/all/misc');
    const packages = await readFile(join(feed, 'Packages'));
    expect(packages.toString('utf8').match(/^Package: /gm)).toHaveLength(4);
    expect(splitMembers(await readFile(join(feed, 'Packages.gz')))).toHaveLength(4);
    expect(readWith(command, join(feed, 'Packages.gz')).equals(packages), name).toBe(true);
  });
});

describe('a section feed', () => {
  it('writes what reindex writes for the same stanzas, and after a change differs in one chunk only', () => {
    const { stanzas, packages, offsets } = feedOf(2000);
    const gz = gzipPackages(packages, stanzas, offsets);
    const section = SectionFeed.read('Packages', packages, gz);
    expect(section.changed).toBe(false);
    expect(section.get('pkg00007')?.version).toBe('1.0-1');

    section.set(stanza('pkg00007', '2.0-1'));
    const changed = section.files();
    const after = filesOf(stanzas.map((entry) => (entry.package === 'pkg00007' ? stanza('pkg00007', '2.0-1') : entry)));
    expect(changed.text).toBe(after.packages.toString('utf8'));
    expect(changed.gz.equals(gzipPackages(after.packages, after.stanzas, after.offsets))).toBe(true);
    const before = splitMembers(gz) ?? [];
    const now = splitMembers(changed.gz) ?? [];
    expect(now).toHaveLength(before.length);
    expect(now.filter((member, i) => !member.bytes.equals((before[i] as { bytes: Buffer }).bytes))).toHaveLength(1);
  });

  it('reads a Packages file laid out otherwise in full, keeping the highest of a package listed twice, and marks it for writing', () => {
    const text = 'Package: b\nVersion: 1\n\n\nPackage: a\nVersion: 2\n\nPackage: b\nVersion: 3\n';
    const section = SectionFeed.read('Packages', Buffer.from(text), undefined);
    expect(section.get('b')?.version).toBe('3');
    expect(section.changed).toBe(true);
    expect(section.files().text).toBe('Package: a\nVersion: 2\n\nPackage: b\nVersion: 3\n');
  });

  it('names the file of a stanza without a Version', () => {
    expect(() => SectionFeed.read('/feeds/x/Packages', Buffer.from('Package: a\n'), undefined).get('a')).toThrow(/\/feeds\/x\/Packages.*no Version/);
  });

  it('finds a package however its Package field is spelled, and not one only named in other fields', () => {
    const text = 'Package: bar\nVersion: 1\nDepends: foo-doc, libfoo (>= 1)\nSource: baz\n\npackage:foo \nVersion: 2\n';
    const section = SectionFeed.read('Packages', Buffer.from(text), undefined);
    expect(section.get('foo')?.version).toBe('2');
    const other = SectionFeed.read('Packages', Buffer.from('Package: bar\nVersion: 1\nDepends: foo-doc, libfoo (>= 1), foo\n'), undefined);
    expect(other.get('foo')).toBeUndefined();
    expect(other.get('baz')).toBeUndefined();
    expect(other.delete('baz')).toBe(false);
    expect(other.get('bar')?.version).toBe('1');
  });
});
