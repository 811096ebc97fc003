import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import {
  formatChanges,
  inspectChanges,
  parseChanges,
  sourcePackageFileName,
  uploadFileNameProblem,
  type Changes,
  type ChangesFields,
} from '../../lib/formats/changes.js';
import { Stanza } from '../../lib/formats/control.js';
import { formatErrorOf } from '../support/errors.js';

const FILE = 'hello_1.0-1.changes';
const SHA = 'a'.repeat(64);
const SHA_OTHER = 'b'.repeat(64);
const MD5 = 'c'.repeat(32);
const SRC = 'hello_1.0-1_src.opk';

/** A realistic upload, one line per element so tests can name line numbers (1-based index + 1). */
const LINES = [
  'Format: 1.8', // 1
  'Date: Sat, 21 Nov 2026 12:00:00 +0000', // 2
  'Source: hello', // 3
  'Binary: hello hello-doc', // 4
  'Architecture: any all', // 5
  'Platform: all', // 6
  'Version: 1:1.0-1', // 7
  'Distribution: trunk', // 8
  'Maintainer: Jane Doe <jane@example.org>', // 9
  'Changed-By: John Roe <john@example.org>', // 10
  'Description:', // 11
  ' hello      - example program', // 12
  ' hello-doc - documentation for hello', // 13
  'Changes:', // 14
  ' hello (1:1.0-1) trunk; urgency=low', // 15
  ' .', // 16
  '   * Initial release.', // 17
  '     Continued over two lines.', // 18
  'Checksums-Sha256:', // 19
  ` ${SHA.toUpperCase()} 1234 ${SRC}`, // 20
  'Files:', // 21
  ` ${MD5} 1234 devel optional ${SRC}`, // 22
];

function text(lines: readonly string[] = LINES): string {
  return `${lines.join('\n')}\n`;
}

/** The lines with line `number` (1-based) replaced by `replacement` (none, one or several lines). */
function replacing(number: number, ...replacement: string[]): string[] {
  const lines = [...LINES];
  lines.splice(number - 1, 1, ...replacement);
  return lines;
}

/** The lines with `added` inserted after line `number`. */
function inserting(number: number, ...added: string[]): string[] {
  const lines = [...LINES];
  lines.splice(number, 0, ...added);
  return lines;
}

/** The fields of a parsed .changes, without its raw stanza. */
function fieldsOf(changes: Changes): ChangesFields {
  const { stanza, ...rest } = changes;
  expect(stanza).toBeInstanceOf(Stanza);
  return rest;
}

/** Every problem inspectChanges reports. */
function problems(lines: readonly string[]): string[] {
  const inspection = inspectChanges(text(lines), FILE);
  expect(inspection.changes).toBeUndefined();
  return inspection.problems;
}

/** The error parseChanges throws. */
function thrown(lines: readonly string[]): FormatError {
  return formatErrorOf(() => parseChanges(text(lines), FILE));
}

/** Checks that a .changes has exactly one problem, reported alike by both readers, and returns it. */
function onlyProblem(lines: readonly string[]): string {
  const error = thrown(lines);
  expect(problems(lines)).toEqual([error.message]);
  return error.message;
}

const fields: ChangesFields = {
  date: 'Sat, 21 Nov 2026 12:00:00 +0000',
  source: 'hello',
  binaries: ['hello', 'hello-doc'],
  architectures: ['amd64-linux-glibc', 'any-linux-any'],
  platforms: ['dev', 'any'],
  version: '2:1.0~rc1-3',
  distribution: 'trunk',
  maintainer: 'Jane Doe <jane@example.org>',
  changedBy: 'John Roe <john@example.org>',
  description: 'hello - example program\nhello-doc - documentation for hello',
  changesText: 'hello (2:1.0~rc1-3) trunk; urgency=low\n\n  * Initial release.\n    Second line.\n\n  * Another change.',
  files: [{ name: 'hello_1.0~rc1-3_src.opk', size: 0, sha256: SHA, md5: MD5 }],
};

describe('parseChanges', () => {
  it('reads a realistic .changes', () => {
    const changes = parseChanges(text(), FILE);
    expect(changes).toMatchObject({
      date: 'Sat, 21 Nov 2026 12:00:00 +0000',
      source: 'hello',
      binaries: ['hello', 'hello-doc'],
      architectures: ['any', 'all'],
      platforms: ['all'],
      version: '1:1.0-1',
      distribution: 'trunk',
      maintainer: 'Jane Doe <jane@example.org>',
      changedBy: 'John Roe <john@example.org>',
      description: 'hello      - example program\nhello-doc - documentation for hello',
      changesText: 'hello (1:1.0-1) trunk; urgency=low\n\n  * Initial release.\n    Continued over two lines.',
      // Upper-case hashes are kept in lower case; Debian's five-column Files line is read.
      files: [{ name: SRC, size: 1234, sha256: SHA, md5: MD5 }],
    });
    expect(changes.stanza.get('Format')).toBe('1.8');
  });

  it('defaults Changed-By to Maintainer and Platform to all, and allows no Files, Binary, Description or Changes', () => {
    const lines = LINES.filter((line, index) => ![4, 6, 10].includes(index + 1) && index + 1 < 11).concat(LINES.slice(18, 20));
    const changes = parseChanges(text(lines), FILE);
    expect(changes).toMatchObject({
      changedBy: 'Jane Doe <jane@example.org>',
      platforms: ['all'],
      binaries: [],
      description: '',
      changesText: '',
      files: [{ name: SRC, size: 1234, sha256: SHA }],
    });
    expect(changes.files[0]).not.toHaveProperty('md5');
  });

  it('reports a missing required field', () => {
    expect(onlyProblem(replacing(7))).toBe(`${FILE}: missing required field "Version"`);
    expect(thrown(replacing(7)).code).toBe('changes.malformed');
    expect(problems(replacing(19, 'Checksums-Sha256:').filter((_, index) => index !== 19))).toEqual([
      `${FILE}:19: Checksums-Sha256 is empty`,
      `${FILE}:21: Files lists "${SRC}", which Checksums-Sha256 does not`,
    ]);
    expect(problems(LINES.filter((_, index) => index !== 18 && index !== 19))).toEqual([
      `${FILE}: missing required field "Checksums-Sha256"`,
      `${FILE}:20: Files lists "${SRC}", which Checksums-Sha256 does not`,
    ]);
  });

  it('rejects a bad version', () => {
    expect(onlyProblem(replacing(7, 'Version: 1.0 beta'))).toBe(`${FILE}:7: Version "1.0 beta": version has embedded spaces`);
    expect(onlyProblem(replacing(7, 'Version: a1.0-1'))).toBe(
      `${FILE}:7: Version "a1.0-1": upstream version does not start with a digit`,
    );
  });

  it('rejects a bad source name, the reserved src- prefix included', () => {
    expect(onlyProblem(replacing(3, 'Source: src-foo'))).toBe(
      `${FILE}:3: Source: source name "src-foo" uses the reserved prefix "src-"`,
    );
    expect(onlyProblem(replacing(3, 'Source: Hello'))).toBe(
      `${FILE}:3: Source: package name "Hello" must match [a-z0-9][a-z0-9+.-]+`,
    );
  });

  it('rejects bad checksum lines', () => {
    expect(onlyProblem(replacing(20, ' abc 12'))).toBe(
      `${FILE}:20: Checksums-Sha256 line "abc 12" is not "<sha256> <size> <name>"`,
    );
    expect(onlyProblem(replacing(20, ` xyz 1234 ${SRC}`))).toBe(
      `${FILE}:20: Checksums-Sha256: SHA-256 "xyz" of "${SRC}" is not 64 hexadecimal digits`,
    );
    expect(onlyProblem(replacing(20, ` ${'g'.repeat(64)} 1234 ${SRC}`))).toBe(
      `${FILE}:20: Checksums-Sha256: SHA-256 "${'g'.repeat(64)}" of "${SRC}" is not 64 hexadecimal digits`,
    );
    for (const size of ['-5', '+5', '1.5', '0x10']) {
      expect(onlyProblem(replacing(20, ` ${SHA} ${size} ${SRC}`))).toBe(
        `${FILE}:20: Checksums-Sha256: size "${size}" of "${SRC}" is not a decimal number of bytes`,
      );
    }
    expect(onlyProblem(replacing(20, ` ${SHA} 99999999999999999999 ${SRC}`))).toBe(
      `${FILE}:20: Checksums-Sha256: size "99999999999999999999" of "${SRC}" is too large`,
    );
    expect(onlyProblem(replacing(22, ` ${MD5} 1234 devel ${SRC}`))).toBe(
      `${FILE}:22: Files line "${MD5} 1234 devel ${SRC}" is not "<md5> <size> <name>" or "<md5> <size> <section> <priority> <name>"`,
    );
    expect(onlyProblem(replacing(22, ` ${MD5}0 1234 ${SRC}`))).toBe(
      `${FILE}:22: Files: MD5 "${MD5}0" of "${SRC}" is not 32 hexadecimal digits`,
    );
    expect(onlyProblem(replacing(19, `Checksums-Sha256: ${SHA} 1234 ${SRC}`).filter((_, index) => index !== 19))).toBe(
      `${FILE}:19: Checksums-Sha256 must start on the line after "Checksums-Sha256:", one file per line`,
    );
  });

  it('rejects file names that are not plain basenames', () => {
    for (const name of ['../x', 'a/b', '.x', 'a..b', '-x', '/etc/passwd']) {
      expect(onlyProblem(inserting(20, ` ${SHA_OTHER} 5 ${name}`))).toBe(
        `${FILE}:21: Checksums-Sha256: file name ${JSON.stringify(name)} is not a plain file name ([A-Za-z0-9][A-Za-z0-9+._~-]*, without "..")`,
      );
    }
    expect(onlyProblem(inserting(22, ` ${MD5} 5 a/b`))).toBe(
      `${FILE}:23: Files: file name "a/b" is not a plain file name ([A-Za-z0-9][A-Za-z0-9+._~-]*, without "..")`,
    );
  });

  it('rejects a file listed twice', () => {
    expect(onlyProblem(inserting(20, ` ${SHA_OTHER} 1234 ${SRC}`))).toBe(
      `${FILE}:21: Checksums-Sha256 lists "${SRC}" twice (first at line 20)`,
    );
    expect(onlyProblem(inserting(22, ` ${MD5} 1234 ${SRC}`))).toBe(`${FILE}:23: Files lists "${SRC}" twice (first at line 22)`);
  });

  it('rejects Files naming a file Checksums-Sha256 lacks, and sizes that disagree', () => {
    expect(onlyProblem(inserting(22, ` ${MD5} 10 hello_1.0-1_amd64.opk`))).toBe(
      `${FILE}:23: Files lists "hello_1.0-1_amd64.opk", which Checksums-Sha256 does not`,
    );
    expect(onlyProblem(replacing(22, ` ${MD5} 1235 ${SRC}`))).toBe(
      `${FILE}:22: Files gives "${SRC}" size 1235, Checksums-Sha256 (line 20) gives 1234`,
    );
  });

  it('accepts only the source package, named for the version without its epoch', () => {
    const mismatch = replacing(7, 'Version: 1:1.0-2');
    expect(problems(mismatch)).toEqual([
      `${FILE}:19: Checksums-Sha256 does not list the source package "hello_1.0-2_src.opk"`,
      `${FILE}:20: "${SRC}" is not the source package "hello_1.0-2_src.opk": uploads are source-only`,
    ]);
    expect(thrown(mismatch).message).toBe(
      `${FILE}:19: Checksums-Sha256 does not list the source package "hello_1.0-2_src.opk"`,
    );
    expect(onlyProblem(inserting(20, ` ${SHA_OTHER} 10 hello_1.0-1_amd64.opk`))).toBe(
      `${FILE}:21: "hello_1.0-1_amd64.opk" is not the source package "${SRC}": uploads are source-only`,
    );
  });

  it('rejects bad Format, Date, Distribution, Architecture, Platform, Binary and people', () => {
    expect(onlyProblem(replacing(1, 'Format: 1.7'))).toBe(`${FILE}:1: Format "1.7" is not supported (only 1.8)`);
    expect(onlyProblem(replacing(2, 'Date: yesterday'))).toBe(`${FILE}:2: Date "yesterday" is not an RFC 5322 date`);
    expect(onlyProblem(replacing(8, 'Distribution: trunk rs1'))).toBe(
      `${FILE}:8: Distribution "trunk rs1" is not one word matching [a-z0-9][a-z0-9.+-]*`,
    );
    expect(onlyProblem(replacing(5, 'Architecture: any amd64'))).toBe(
      `${FILE}:5: Architecture: architecture "amd64" must be all, any, src or <cpu>-<kernel>-<libc>`,
    );
    expect(onlyProblem(replacing(6, 'Platform: dev Dev'))).toBe(`${FILE}:6: Platform: platform "Dev" must match [a-z0-9][a-z0-9.+-]*`);
    expect(onlyProblem(replacing(6, 'Platform:'))).toBe(`${FILE}:6: Platform is empty`);
    expect(onlyProblem(replacing(4, 'Binary: hello Hello'))).toBe(
      `${FILE}:4: Binary: package name "Hello" must match [a-z0-9][a-z0-9+.-]+`,
    );
    expect(onlyProblem(replacing(9, 'Maintainer: jane'))).toBe(`${FILE}:9: Maintainer "jane" is not "Name <address>"`);
    expect(onlyProblem(replacing(10, 'Changed-By: <john@example.org>'))).toBe(
      `${FILE}:10: Changed-By "<john@example.org>" is not "Name <address>"`,
    );
  });

  it('rejects a Maintainer or Changed-By with a control character, which could smuggle a header into mail', () => {
    expect(onlyProblem(replacing(9, 'Maintainer: Evil\rBcc: victim@example.net <evil@example.org>'))).toBe(
      `${FILE}:9: Maintainer "Evil\\rBcc: victim@example.net <evil@example.org>" is not "Name <address>"`,
    );
    expect(onlyProblem(replacing(10, 'Changed-By: John\u0007Doe <john@example.org>'))).toBe(
      `${FILE}:10: Changed-By "John\\u0007Doe <john@example.org>" is not "Name <address>"`,
    );
  });

  it('passes on the control parser errors: duplicate field, NUL byte, several stanzas', () => {
    const duplicate = thrown(inserting(3, 'Source: other'));
    expect(duplicate.message).toBe(`${FILE}:4: duplicate field "Source" (first at line 3)`);
    expect(duplicate.code).toBe('control.duplicate-field');
    expect(problems(inserting(3, 'Source: other'))).toEqual([duplicate.message]);

    const nul = thrown(replacing(3, 'Source: hel\0lo'));
    expect(nul.message).toBe(`${FILE}:3: NUL byte in control data`);
    expect(nul.code).toBe('control.nul-byte');

    expect(thrown(inserting(22, '', 'Source: other')).message).toBe(`${FILE}: expected one stanza, found 2`);
  });

  it('collects every problem at once, in line order', () => {
    const lines = [...LINES];
    lines[2] = 'Source: src-foo';
    lines[7] = 'Distribution: Trunk';
    lines[21] = ` ${MD5} 1 ${SRC}`;
    lines.splice(20, 0, ` ${SHA_OTHER} 5 ../x`);
    lines.splice(1, 1);
    const inspection = inspectChanges(text(lines), FILE);
    expect(inspection.problems).toEqual([
      `${FILE}: missing required field "Date"`,
      `${FILE}:2: Source: source name "src-foo" uses the reserved prefix "src-"`,
      `${FILE}:7: Distribution "Trunk" is not one word matching [a-z0-9][a-z0-9.+-]*`,
      `${FILE}:20: Checksums-Sha256: file name "../x" is not a plain file name ([A-Za-z0-9][A-Za-z0-9+._~-]*, without "..")`,
      `${FILE}:22: Files gives "${SRC}" size 1, Checksums-Sha256 (line 19) gives 1234`,
    ]);
    // The raw fields and the well-formed entries remain for the upload checker and a rejection mail.
    expect(inspection.stanza?.get('Maintainer')).toBe('Jane Doe <jane@example.org>');
    expect(inspection.files).toEqual([{ name: SRC, size: 1234, sha256: SHA, md5: MD5 }]);
    expect(thrown(lines).message).toBe(`${FILE}: missing required field "Date"`);
  });

  it('keeps every problem on one line', () => {
    const lines = replacing(3, 'Source: hello', ' world');
    expect(problems(lines)).toEqual([`${FILE}:3: Source: package name "hello\\n world" must match [a-z0-9][a-z0-9+.-]+`]);
  });
});

describe('formatChanges', () => {
  it('writes the fields in Debian order, with multi-line Description, Changes and checksum lists', () => {
    expect(formatChanges(fields)).toBe(`Format: 1.8
Date: Sat, 21 Nov 2026 12:00:00 +0000
Source: hello
Binary: hello hello-doc
Architecture: amd64-linux-glibc any-linux-any
Platform: dev any
Version: 2:1.0~rc1-3
Distribution: trunk
Maintainer: Jane Doe <jane@example.org>
Changed-By: John Roe <john@example.org>
Description:
 hello - example program
 hello-doc - documentation for hello
Changes:
 hello (2:1.0~rc1-3) trunk; urgency=low
 .
   * Initial release.
     Second line.
 .
   * Another change.
Checksums-Sha256:
 ${SHA} 0 hello_1.0~rc1-3_src.opk
Files:
 ${MD5} 0 hello_1.0~rc1-3_src.opk
`);
  });

  it('round-trips through parseChanges', () => {
    const { stanza, ...read } = parseChanges(formatChanges(fields), FILE);
    expect(read).toEqual(fields);
    expect(stanza.get('Source')).toBe('hello');

    const parsed = fieldsOf(parseChanges(text(), FILE));
    expect(fieldsOf(parseChanges(formatChanges(parsed), FILE))).toEqual(parsed);
  });

  it('omits empty optional fields, and Files when no MD5 is known', () => {
    const minimal: ChangesFields = {
      ...fields,
      binaries: [],
      description: '',
      changesText: '',
      files: [{ name: 'hello_1.0~rc1-3_src.opk', size: 7, sha256: SHA }],
    };
    const written = formatChanges(minimal);
    expect(written).not.toMatch(/^(Binary|Description|Changes|Files):/m);
    expect(fieldsOf(parseChanges(written, FILE))).toEqual(minimal);
  });

  it('refuses to write what would not read back', () => {
    expect(formatErrorOf(() => formatChanges({ ...fields, version: '1.0 beta' })).message).toBe(
      '<output>:7: Version "1.0 beta": version has embedded spaces',
    );
    expect(formatErrorOf(() => formatChanges({ ...fields, changesText: 'a\rb' })).message).toBe(
      '<output>: field "Changes" has a NUL or CR character',
    );
  });
});

describe('file names', () => {
  it('names the source package without the epoch', () => {
    expect(sourcePackageFileName('hello', '1:1.0-1')).toBe('hello_1.0-1_src.opk');
    expect(sourcePackageFileName('hello', '1.0')).toBe('hello_1.0_src.opk');
  });

  it('accepts only plain basenames', () => {
    expect(uploadFileNameProblem('hello_1.0~rc1+b2-1_src.opk')).toBeUndefined();
    for (const name of ['', '..', '../x', 'a/b', '.hidden', 'a..b', 'a\0b', 'a b', 'a\nb']) {
      expect(uploadFileNameProblem(name)).toMatch(/is not a plain file name/);
    }
    expect(uploadFileNameProblem('x'.repeat(256))).toMatch(/is longer than 255 bytes/);
  });
});
