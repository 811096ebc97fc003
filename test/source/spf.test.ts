/** readSourceDirectory: the SPF 2.0 samples read as expected, and every malformed directory is refused by name. */
import { chmod, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { FormatErrorCode } from '../../lib/errors.js';
import { isExcludedFromSource, readSourceDirectory } from '../../lib/source/spf.js';
import { copyExample, EXAMPLES, formatErrorOf } from './fixtures.js';

describe('readSourceDirectory on the samples', () => {
  it('reads hello: change log entry, source control, binary packages sorted by package name', async () => {
    const directory = join(EXAMPLES, 'hello');
    const spec = await readSourceDirectory(directory);
    expect(spec.directory).toBe(directory);
    expect(spec.changelog).toEqual({
      source: 'hello',
      version: '1.0-1',
      distribution: 'trunk',
      lines: [
        'hello (1.0-1) trunk; urgency=low',
        '',
        '  * Initial release: a C hello with an architecture-dependent binary',
        '    and an architecture-independent documentation package.',
      ],
      changedBy: 'Jane Doe <jane@example.org>',
      date: 'Sat, 21 Nov 2026 12:00:00 +0000',
      timestamp: Date.UTC(2026, 10, 21, 12, 0, 0) / 1000,
    });
    expect(spec.control.get('Maintainer')).toBe('Jane Doe <jane@example.org>');
    expect(spec.control.get('Build-Depends')).toBe('make, gcc');
    // "hello" before "hello-doc", although the directory "hello-doc.pkg" sorts before "hello.pkg".
    expect(spec.binaryPackages.map((binary) => [binary.name, binary.architectures, binary.platforms])).toEqual([
      ['hello', ['any'], ['all']],
      ['hello-doc', ['all'], ['all']],
    ]);
    expect(spec.binaryPackages[0]?.control.get('Description')).toBe(
      'greets the world\n hello prints a friendly greeting; it is opkfarm\'s sample of an\n architecture-dependent binary package.',
    );
  });

  it('reads only the first entry of a change log with several', async () => {
    const spec = await readSourceDirectory(join(EXAMPLES, 'motd-banner'));
    expect(spec.changelog.version).toBe('2.3');
    expect(spec.changelog.changedBy).toBe('Sam Uploader <sam@example.org>');
    expect(spec.changelog.lines).toEqual(['motd-banner (2.3) trunk; urgency=low', '', '  * Shorter banner.']);
    expect(spec.control.get('Maintainer')).toBe('Ops Team <ops@example.org>');
  });

  it('reads a tilde version and several architectures-any packages', async () => {
    const spec = await readSourceDirectory(join(EXAMPLES, 'libgreet'));
    expect(spec.changelog.version).toBe('0.9~rc1-1');
    expect(spec.binaryPackages.map((binary) => binary.name)).toEqual(['libgreet-dev', 'libgreet1']);
  });

  it('defaults a missing Platform to all, and reads lists of architectures and platforms', async () => {
    const directory = await copyExample('hello');
    await writeFile(join(directory, 'hello-doc.pkg/control'), 'Architecture: all\nDescription: docs\n');
    await writeFile(
      join(directory, 'hello.pkg/control'),
      '# a comment is allowed here\nArchitecture: amd64-linux-glibc any-linux-musl\nPlatform: dev, rel\nDescription: x\n',
    );
    const spec = await readSourceDirectory(directory);
    expect(spec.binaryPackages.map((binary) => [binary.name, binary.architectures, binary.platforms])).toEqual([
      ['hello', ['amd64-linux-glibc', 'any-linux-musl'], ['dev', 'rel']],
      ['hello-doc', ['all'], ['all']],
    ]);
  });
});

describe('isExcludedFromSource', () => {
  it.each([
    [['tmp'], true],
    [['tmp', 'hello.data', 'usr'], true],
    [['.git'], true],
    [['.git', 'HEAD'], true],
    [['src', '.git', 'config'], true],
    [['src', '.svn'], true],
    [['.hg'], true],
    [['.bzr'], true],
    [['CVS', 'Root'], true],
    [['src', 'tmp'], false],
    [['src', 'tmp', 'x.c'], false],
    [['tmpfile'], false],
    [['.gitignore'], false],
    [['src', 'hello.c'], false],
    [[''], false],
  ])('%j → %s', (components, excluded) => {
    expect(isExcludedFromSource(components)).toBe(excluded);
  });
});

interface Case {
  readonly name: string;
  /** Breaks the copy of examples/hello in `directory`. */
  readonly breakIt: (directory: string) => Promise<unknown>;
  readonly code: FormatErrorCode;
  /** The file the error names, relative to the source directory ('' for the directory itself). */
  readonly file: string;
  readonly line?: number;
  readonly detail: string;
}

const pkgControl = (body: string) => (directory: string) => writeFile(join(directory, 'hello.pkg/control'), body);

const CASES: Case[] = [
  {
    name: 'no format file',
    breakIt: (d) => rm(join(d, 'format')),
    code: 'source.malformed',
    file: 'format',
    detail: 'missing: not an SPF 2.0 source package directory',
  },
  {
    name: 'format 1.0',
    breakIt: (d) => writeFile(join(d, 'format'), '1.0\n'),
    code: 'source.malformed',
    file: 'format',
    detail: 'source package format is "1.0", only "2.0" is supported',
  },
  {
    name: 'format a directory',
    breakIt: async (d) => {
      await rm(join(d, 'format'));
      await mkdir(join(d, 'format'));
    },
    code: 'source.malformed',
    file: 'format',
    detail: 'not a regular file',
  },
  {
    name: 'no control file',
    breakIt: (d) => rm(join(d, 'control')),
    code: 'source.malformed',
    file: 'control',
    detail: 'missing',
  },
  {
    name: 'control without Maintainer',
    breakIt: (d) => writeFile(join(d, 'control'), '# no maintainer\nSection: utils\n'),
    code: 'source.malformed',
    file: 'control',
    detail: 'required field "Maintainer" is missing',
  },
  {
    name: 'control with a malformed line',
    breakIt: (d) => writeFile(join(d, 'control'), 'Maintainer: Jane Doe <jane@example.org>\nnot a field\n'),
    code: 'control.malformed-line',
    file: 'control',
    line: 2,
    detail: 'malformed line (expected "Field: value"): "not a field"',
  },
  {
    name: 'no changelog',
    breakIt: (d) => rm(join(d, 'changelog')),
    code: 'source.malformed',
    file: 'changelog',
    detail: 'missing',
  },
  {
    name: 'changelog with a malformed header',
    breakIt: (d) =>
      writeFile(join(d, 'changelog'), '\nhello 1.0-1 trunk\n\n  * x\n\n -- Jane Doe <jane@example.org>  Sat, 21 Nov 2026 12:00:00 +0000\n'),
    code: 'changelog.malformed',
    file: 'changelog',
    line: 2,
    detail: 'first entry header is not "<source> (<version>) <distribution>": "hello 1.0-1 trunk"',
  },
  {
    name: 'build not executable',
    breakIt: (d) => chmod(join(d, 'build'), 0o644),
    code: 'source.malformed',
    file: 'build',
    detail: 'must be executable by all users (mode 0755), is 0644',
  },
  {
    name: 'build executable by its owner only',
    breakIt: (d) => chmod(join(d, 'build'), 0o744),
    code: 'source.malformed',
    file: 'build',
    detail: 'must be executable by all users (mode 0755), is 0744',
  },
  {
    name: 'build without the make line',
    breakIt: (d) => writeFile(join(d, 'build'), '#!/bin/sh\nmake "$@"\n'),
    code: 'source.malformed',
    file: 'build',
    detail: 'first line must be "#! /usr/bin/make -f", is "#!/bin/sh"',
  },
  {
    name: 'build a symlink',
    breakIt: async (d) => {
      await rename(join(d, 'build'), join(d, 'build.real'));
      await symlink('build.real', join(d, 'build'));
    },
    code: 'source.malformed',
    file: 'build',
    detail: 'not a regular file',
  },
  {
    name: 'no .pkg directory',
    breakIt: async (d) => {
      await rm(join(d, 'hello.pkg'), { recursive: true });
      await rm(join(d, 'hello-doc.pkg'), { recursive: true });
    },
    code: 'source.malformed',
    file: '',
    detail: 'no <binpkg>.pkg directory: the source package builds nothing',
  },
  {
    name: 'a .pkg directory with a bad name',
    breakIt: (d) => rename(join(d, 'hello-doc.pkg'), join(d, 'Bad.pkg')),
    code: 'source.malformed',
    file: 'Bad.pkg',
    detail: 'package name "Bad" must match [a-z0-9][a-z0-9+.-]+',
  },
  {
    name: 'a src- binary package',
    breakIt: (d) => rename(join(d, 'hello-doc.pkg'), join(d, 'src-foo.pkg')),
    code: 'source.malformed',
    file: 'src-foo.pkg',
    detail: 'binary package name "src-foo" uses the reserved prefix "src-"',
  },
  {
    name: 'a .pkg directory without control',
    breakIt: (d) => rm(join(d, 'hello.pkg/control')),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    detail: 'missing',
  },
  {
    name: 'a .pkg that is a file',
    breakIt: (d) => writeFile(join(d, 'notes.pkg'), 'not a directory\n'),
    code: 'source.malformed',
    file: 'notes.pkg/control',
    detail: 'missing',
  },
  {
    name: '.pkg control without Architecture',
    breakIt: pkgControl('Platform: all\nDescription: x\n'),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    detail: 'required field "Architecture" is missing or empty',
  },
  {
    name: '.pkg control with Architecture amd64',
    breakIt: pkgControl('Platform: all\nArchitecture: amd64\nDescription: x\n'),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    line: 2,
    detail: 'Architecture: architecture "amd64" must be all, any, src or <cpu>-<kernel>-<libc>',
  },
  {
    name: '.pkg control with Architecture src',
    breakIt: pkgControl('Architecture: any src\nDescription: x\n'),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    line: 1,
    detail: 'Architecture: architecture "src" is reserved for source packages',
  },
  {
    name: '.pkg control with a bad Platform',
    breakIt: pkgControl('Architecture: any\nPlatform: all Dev\nDescription: x\n'),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    line: 2,
    detail: 'Platform: platform "Dev" must match [a-z0-9][a-z0-9.+-]*',
  },
  {
    name: '.pkg control with an empty Platform',
    breakIt: pkgControl('Architecture: any\nDescription: x\nPlatform:\n'),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    line: 3,
    detail: 'required field "Platform" is missing or empty',
  },
  {
    name: '.pkg control without Description',
    breakIt: pkgControl('Architecture: any\nPlatform: all\n'),
    code: 'source.malformed',
    file: 'hello.pkg/control',
    detail: 'required field "Description" is missing',
  },
];

describe('readSourceDirectory refuses', () => {
  it.each(CASES)('$name', async ({ breakIt, code, file, line, detail }) => {
    const directory = await copyExample('hello');
    await breakIt(directory);
    const error = await formatErrorOf(readSourceDirectory(directory));
    const path = file === '' ? directory : join(directory, file);
    expect(error.code).toBe(code);
    expect(error.file).toBe(path);
    expect(error.line).toBe(line);
    expect(error.detail).toBe(detail);
    expect(error.message).toBe(`${path}${line === undefined ? '' : `:${line}`}: ${detail}`);
  });

  it('the unbroken copy reads fine, so each case fails for its one change', async () => {
    const directory = await copyExample('hello');
    await expect(readSourceDirectory(directory)).resolves.toMatchObject({ changelog: { source: 'hello' } });
    expect(await readFile(join(directory, 'build'), 'utf8')).toBe(await readFile(join(EXAMPLES, 'hello/build'), 'utf8'));
  });
});
