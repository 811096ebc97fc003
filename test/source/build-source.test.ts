/**
 * buildSourcePackage: each sample of examples/ becomes a complete upload whose
 * .changes and source opk say what FORMATS.md asks, read back by opkfarm's
 * own readers and by independent ones (tar-stream, GNU tar); the build is
 * reproducible; broken source directories are refused before anything is written.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, realpath, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { checkUpload } from '../../lib/formats/changes-upload.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import {
  copyExample,
  EXAMPLES,
  type Example,
  formatErrorOf,
  gnuTarList,
  normalisedName,
  opkHeaders,
  readOpkListing,
  tempDir,
} from './fixtures.js';

beforeEach(() => {
  // The default epoch is the change log date; a SOURCE_DATE_EPOCH of the caller's would hide it.
  vi.stubEnv('SOURCE_DATE_EPOCH', undefined);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

interface Sample {
  readonly example: Example;
  readonly version: string;
  readonly opk: string;
  readonly changes: string;
  readonly binary: string;
  readonly architecture: string;
  readonly maintainer: string;
  readonly changedBy: string;
  readonly date: string;
  readonly description: string[];
  readonly changelogEntry: string[];
}

const SAMPLES: Sample[] = [
  {
    example: 'hello',
    version: '1.0-1',
    opk: 'hello_1.0-1_src.opk',
    changes: 'hello_1.0-1.changes',
    binary: 'hello hello-doc',
    architecture: 'any all',
    maintainer: 'Jane Doe <jane@example.org>',
    changedBy: 'Jane Doe <jane@example.org>',
    date: 'Sat, 21 Nov 2026 12:00:00 +0000',
    description: ['hello - greets the world', 'hello-doc - documentation for hello'],
    changelogEntry: [
      'hello (1.0-1) trunk; urgency=low',
      '',
      '  * Initial release: a C hello with an architecture-dependent binary',
      '    and an architecture-independent documentation package.',
    ],
  },
  {
    example: 'libgreet',
    version: '0.9~rc1-1',
    opk: 'libgreet_0.9~rc1-1_src.opk',
    changes: 'libgreet_0.9~rc1-1.changes',
    binary: 'libgreet-dev libgreet1',
    architecture: 'any',
    maintainer: 'Jane Doe <jane@example.org>',
    changedBy: 'Jane Doe <jane@example.org>',
    date: 'Thu, 19 Nov 2026 08:00:00 +0000',
    description: ['libgreet-dev - development files for libgreet', 'libgreet1 - tiny greeting library'],
    changelogEntry: ['libgreet (0.9~rc1-1) trunk; urgency=low', '', '  * First release candidate of a tiny shared library.'],
  },
  {
    example: 'motd-banner',
    version: '2.3',
    opk: 'motd-banner_2.3_src.opk',
    changes: 'motd-banner_2.3.changes',
    binary: 'motd-banner',
    architecture: 'all',
    maintainer: 'Ops Team <ops@example.org>',
    changedBy: 'Sam Uploader <sam@example.org>',
    date: 'Fri, 20 Nov 2026 09:30:00 +0000',
    description: ['motd-banner - login banner'],
    changelogEntry: ['motd-banner (2.3) trunk; urgency=low', '', '  * Shorter banner.'],
  },
];

/** hello's source opk, entry by entry. */
const HELLO_ENTRIES = [
  '.',
  'usr',
  'usr/src',
  'usr/src/hello_1.0-1',
  'usr/src/hello_1.0-1/build',
  'usr/src/hello_1.0-1/changelog',
  'usr/src/hello_1.0-1/control',
  'usr/src/hello_1.0-1/format',
  'usr/src/hello_1.0-1/hello-doc.pkg',
  'usr/src/hello_1.0-1/hello-doc.pkg/control',
  'usr/src/hello_1.0-1/hello.pkg',
  'usr/src/hello_1.0-1/hello.pkg/control',
  'usr/src/hello_1.0-1/src',
  'usr/src/hello_1.0-1/src/Makefile',
  'usr/src/hello_1.0-1/src/README',
  'usr/src/hello_1.0-1/src/hello.c',
];

const HELLO_DATE = Date.UTC(2026, 10, 21, 12, 0, 0) / 1000;

function digest(algorithm: 'sha256' | 'md5', data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** Every path under `directory`, relative, in writeOpk's order: byte order of "./<path>", with "/" after a directory. */
async function treeOf(directory: string): Promise<string[]> {
  const keyed = await Promise.all(
    (await readdir(directory, { recursive: true })).map(async (path) => {
      const isDirectory = (await lstat(join(directory, path))).isDirectory();
      return { path, key: Buffer.from(`./${path}${isDirectory ? '/' : ''}`) };
    }),
  );
  return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map(({ path }) => path);
}

describe('buildSourcePackage on the samples', () => {
  it.each(SAMPLES)('$example: a complete upload with the expected names and .changes fields', async (sample) => {
    const output = await tempDir();
    const result = await buildSourcePackage(join(EXAMPLES, sample.example), { outputDirectory: output });
    expect(result).toEqual({
      source: sample.example,
      version: sample.version,
      sourcePackage: join(output, sample.opk),
      changesFile: join(output, sample.changes),
    });
    // The upload and nothing else: the staging tree and the writer's temporaries are gone.
    expect((await readdir(output)).sort()).toEqual([sample.changes, sample.opk].sort());

    const check = await checkUpload(result.changesFile);
    if (check.state !== 'complete') throw new Error(`upload is ${check.state}: ${JSON.stringify(check)}`);
    const { stanza } = check.changes;
    const opk = await readFile(result.sourcePackage);
    expect(stanza.entries()).toEqual([
      ['Format', '1.8'],
      ['Date', sample.date],
      ['Source', sample.example],
      ['Binary', sample.binary],
      ['Architecture', sample.architecture],
      ['Platform', 'all'],
      ['Version', sample.version],
      ['Distribution', 'trunk'],
      ['Maintainer', sample.maintainer],
      ['Changed-By', sample.changedBy],
      ['Description', ['', ...sample.description].join('\n ')],
      ['Changes', ['', ...sample.changelogEntry.map((line) => (line === '' ? '.' : line))].join('\n ')],
      ['Checksums-Sha256', `\n ${digest('sha256', opk)} ${opk.length} ${sample.opk}`],
      ['Files', `\n ${digest('md5', opk)} ${opk.length} ${sample.opk}`],
    ]);
    expect(check.changes.description).toBe(sample.description.join('\n'));
    expect(check.changes.changesText).toBe(sample.changelogEntry.join('\n'));
    expect(check.changes.files).toEqual([
      { name: sample.opk, size: opk.length, sha256: digest('sha256', opk), md5: digest('md5', opk) },
    ]);
  });

  it('hello: the .changes text, byte for byte', async () => {
    const output = await tempDir();
    const result = await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: output });
    const opk = await readFile(result.sourcePackage);
    expect(await readFile(result.changesFile, 'utf8')).toBe(
      [
        'Format: 1.8',
        'Date: Sat, 21 Nov 2026 12:00:00 +0000',
        'Source: hello',
        'Binary: hello hello-doc',
        'Architecture: any all',
        'Platform: all',
        'Version: 1.0-1',
        'Distribution: trunk',
        'Maintainer: Jane Doe <jane@example.org>',
        'Changed-By: Jane Doe <jane@example.org>',
        'Description:',
        ' hello - greets the world',
        ' hello-doc - documentation for hello',
        'Changes:',
        ' hello (1.0-1) trunk; urgency=low',
        ' .',
        '   * Initial release: a C hello with an architecture-dependent binary',
        '     and an architecture-independent documentation package.',
        'Checksums-Sha256:',
        ` ${digest('sha256', opk)} ${opk.length} hello_1.0-1_src.opk`,
        'Files:',
        ` ${digest('md5', opk)} ${opk.length} hello_1.0-1_src.opk`,
        '',
      ].join('\n'),
    );
  });

  it('hello: the source opk is src-hello, installing the tree under usr/src/hello_1.0-1/', async () => {
    const directory = join(EXAMPLES, 'hello');
    const output = await tempDir();
    const { sourcePackage } = await buildSourcePackage(directory, { outputDirectory: output });
    const { control, entries } = await readOpkListing(sourcePackage);
    expect(control.entries()).toEqual([
      ['Package', 'src-hello'],
      ['Source', 'hello'],
      ['Version', '1.0-1'],
      ['Architecture', 'src'],
      ['Platform', 'all'],
      ['Maintainer', 'Jane Doe <jane@example.org>'],
      ['Section', 'utils'],
      ['Build-Depends', 'make, gcc'],
      ['Homepage', 'https://opkfarm.example.org/hello'],
      ['Binary', 'hello, hello-doc'],
      ['Description', 'source package of hello'],
    ]);
    expect(entries.map((entry) => entry.path)).toEqual(HELLO_ENTRIES);

    const build = entries.find((entry) => entry.path === 'usr/src/hello_1.0-1/build');
    expect(build).toMatchObject({ type: 'file', mode: 0o755, size: (await stat(join(directory, 'build'))).size });
    for (const entry of entries) {
      if (!entry.path.startsWith('usr/src/hello_1.0-1/')) continue;
      const source = await stat(join(directory, relative('usr/src/hello_1.0-1', entry.path)));
      expect(entry, entry.path).toMatchObject({
        type: source.isDirectory() ? 'directory' : 'file',
        mode: source.mode & 0o7777,
        size: source.isDirectory() ? 0 : source.size,
      });
    }
    // The content is the sample's, byte for byte.
    const hello = await tarFileContent(sourcePackage, './usr/src/hello_1.0-1/src/hello.c');
    expect(hello.equals(await readFile(join(directory, 'src/hello.c')))).toBe(true);
  });

  it.each(SAMPLES)('$example: the source opk holds exactly the sample tree, as readOpk and GNU tar see it', async (sample) => {
    const directory = join(EXAMPLES, sample.example);
    const output = await tempDir();
    const { sourcePackage } = await buildSourcePackage(directory, { outputDirectory: output });
    const root = `usr/src/${sample.example}_${sample.version}`;
    const { control, entries } = await readOpkListing(sourcePackage);
    expect(control.get('Package')).toBe(`src-${sample.example}`);
    expect(control.get('Source')).toBe(sample.example);
    expect(control.get('Version')).toBe(sample.version);
    expect(control.get('Binary')).toBe(sample.binary.split(' ').join(', '));
    const paths = entries.map((entry) => entry.path);
    expect(paths).toEqual(['.', 'usr', 'usr/src', root, ...(await treeOf(directory)).map((path) => `${root}/${path}`)]);
    await expect(gnuListing(sourcePackage)).resolves.toEqual({
      outer: ['./debian-binary', './control.tar.gz', './data.tar.gz'],
      control: ['./', './control'],
      data: paths,
    });
  });
});

describe('what a source build leaves out', () => {
  it('leaves out tmp/ and version-control directories, keeps a nested src/tmp/', async () => {
    const directory = await copyExample('hello');
    const files = {
      'tmp/build': '',
      'tmp/hello.data/usr/bin/hello': 'binary\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/objects/ab/cdef': 'object\n',
      'src/.svn/entries': '12\n',
      'src/tmp/generated.c': 'int generated;\n',
      '.gitignore': 'tmp/\n',
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(directory, path, '..'), { recursive: true });
      await writeFile(join(directory, path), content);
    }
    const output = await tempDir();
    const { sourcePackage } = await buildSourcePackage(directory, { outputDirectory: output });
    const { entries } = await readOpkListing(sourcePackage);
    const paths = entries.map((entry) => entry.path);
    const root = 'usr/src/hello_1.0-1';
    expect(paths).toEqual([
      '.',
      'usr',
      'usr/src',
      root,
      `${root}/.gitignore`,
      ...HELLO_ENTRIES.slice(4),
      `${root}/src/tmp`,
      `${root}/src/tmp/generated.c`,
    ]);
    expect(paths.filter((path) => /(^|\/)(\.git|\.svn)(\/|$)/.test(path) || path.startsWith(`${root}/tmp`))).toEqual([]);
    expect((await gnuListing(sourcePackage)).data).toEqual(paths);
    // A nested tmp/ is part of the source, content and all.
    const generated = await tarFileContent(sourcePackage, `./${root}/src/tmp/generated.c`);
    expect(generated.toString()).toBe('int generated;\n');
  });
});

describe('reproducible source builds', () => {
  it('gives byte-identical uploads when built twice, wherever the output and whatever the tree mtimes', async () => {
    const first = await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: await tempDir() });
    const second = await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: join(await tempDir(), 'deeper') });
    const copy = await copyExample('hello');
    const later = new Date('2030-01-02T03:04:05Z');
    for (const path of ['.', ...(await treeOf(copy))]) await utimes(join(copy, path), later, later);
    const fromCopy = await buildSourcePackage(copy, { outputDirectory: await tempDir() });

    const opk = await readFile(first.sourcePackage);
    const changes = await readFile(first.changesFile);
    for (const other of [second, fromCopy]) {
      expect((await readFile(other.sourcePackage)).equals(opk)).toBe(true);
      expect((await readFile(other.changesFile)).equals(changes)).toBe(true);
    }
  });

  it('sets every mtime to the change log date by default', async () => {
    const { sourcePackage } = await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: await tempDir() });
    const headers = await opkHeaders(sourcePackage);
    expect(headers.data.map((header) => normalisedName(header.name))).toEqual(HELLO_ENTRIES);
    for (const header of [...headers.outer, ...headers.control, ...headers.data]) {
      expect(header.mtime?.getTime(), header.name).toBe(HELLO_DATE * 1000);
      expect([header.uid, header.gid], header.name).toEqual([0, 0]);
    }
  });

  it('takes the mtime from sourceDateEpoch, then SOURCE_DATE_EPOCH, then the change log', async () => {
    const mtimes = async (options: { sourceDateEpoch?: number }): Promise<{ mtimes: Set<number>; opk: Buffer; changes: string }> => {
      const result = await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: await tempDir(), ...options });
      const headers = await opkHeaders(result.sourcePackage);
      return {
        mtimes: new Set([...headers.outer, ...headers.control, ...headers.data].map((header) => (header.mtime?.getTime() ?? NaN) / 1000)),
        opk: await readFile(result.sourcePackage),
        changes: await readFile(result.changesFile, 'utf8'),
      };
    };
    const byDefault = await mtimes({});
    expect(byDefault.mtimes).toEqual(new Set([HELLO_DATE]));

    const byOption = await mtimes({ sourceDateEpoch: 1234567890 });
    expect(byOption.mtimes).toEqual(new Set([1234567890]));
    expect(byOption.opk.equals(byDefault.opk)).toBe(false);
    // The .changes still dates the upload by its change log entry; only its checksums follow the opk.
    expect(byOption.changes).toContain('\nDate: Sat, 21 Nov 2026 12:00:00 +0000\n');
    expect(byOption.changes).toContain(` ${digest('sha256', byOption.opk)} ${byOption.opk.length} hello_1.0-1_src.opk\n`);

    vi.stubEnv('SOURCE_DATE_EPOCH', '1500000000');
    const byEnvironment = await mtimes({});
    expect(byEnvironment.mtimes).toEqual(new Set([1500000000]));
    expect(byEnvironment.opk.equals((await mtimes({ sourceDateEpoch: 1500000000 })).opk)).toBe(true);
    expect((await mtimes({ sourceDateEpoch: 1234567890 })).mtimes).toEqual(new Set([1234567890]));
  });
});

describe('buildSourcePackage refuses', () => {
  it('a broken source directory before writing anything', async () => {
    const directory = await copyExample('hello');
    await writeFile(join(directory, 'format'), '3.0 (quilt)\n');
    const output = join(await tempDir(), 'upload');
    const error = await formatErrorOf(buildSourcePackage(directory, { outputDirectory: output }));
    expect(error.code).toBe('source.malformed');
    expect(error.message).toBe(`${join(directory, 'format')}: source package format is "3.0 (quilt)", only "2.0" is supported`);
    expect(existsSync(output)).toBe(false);
  });

  it('an output directory inside the source directory, before creating it', async () => {
    const directory = await copyExample('hello');
    const before = await treeOf(directory);
    for (const output of [directory, join(directory, 'upload'), join(directory, 'tmp', 'upload'), `${directory}/src/../upload`]) {
      await expect(buildSourcePackage(directory, { outputDirectory: output })).rejects.toThrow(
        /^output directory .* is inside the source package directory .*; write the upload elsewhere, e.g. in its parent directory$/,
      );
    }
    expect(await treeOf(directory)).toEqual(before);
  });

  it('an output directory reached through a symlink into the source directory', async () => {
    const directory = await copyExample('hello');
    await mkdir(join(directory, 'tmp'));
    const link = join(await tempDir(), 'upload');
    await symlink(join(directory, 'tmp'), link);
    await expect(buildSourcePackage(directory, { outputDirectory: link })).rejects.toThrow(
      `output directory ${await realpath(join(directory, 'tmp'))} is inside the source package directory ${await realpath(directory)};`,
    );
    expect(await readdir(join(directory, 'tmp'))).toEqual([]);
  });

  it('but takes an output directory beside it whose name starts like it', async () => {
    const directory = await copyExample('hello');
    const result = await buildSourcePackage(directory, { outputDirectory: `${directory}-upload` });
    expect(result.sourcePackage).toBe(`${directory}-upload/hello_1.0-1_src.opk`);
  });
});

/** The content of one data file of an opk, extracted by GNU tar. */
async function tarFileContent(opk: string, name: string): Promise<Buffer> {
  const scratch = await tempDir();
  await execa('tar', ['-xzf', opk, '-C', scratch]);
  const { stdout } = await execa('tar', ['-xzOf', join(scratch, 'data.tar.gz'), name], { encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout);
}

/** What GNU tar lists in the outer archive and in the extracted control and data archives (data names normalised). */
async function gnuListing(opk: string): Promise<{ outer: string[]; control: string[]; data: string[] }> {
  const scratch = await tempDir();
  await execa('tar', ['-xzf', opk, '-C', scratch]);
  return {
    outer: await gnuTarList(opk),
    control: await gnuTarList(join(scratch, 'control.tar.gz')),
    data: (await gnuTarList(join(scratch, 'data.tar.gz'))).map(normalisedName),
  };
}
