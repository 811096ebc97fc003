/**
 * The hostile upload corpus: one row per bad upload, each put into
 * uploads/incoming/ beside the others and a good upload, and driven through
 * the real buildq (uploads.test.ts). README.md here lists every case.
 *
 * A row says how to make the case (`make`, into incoming/; the case's name is
 * its source name, so every upload is `<name>_1.0.changes` with
 * `<name>_1.0_src.opk`), and its exact outcome:
 * - `listed`: the upload's line in `buildq list`, its state and every reason;
 * - `problems`: the entries `buildq list` reports as problems, by name and kind;
 * - `accept`: the one line `buildq accept <name> 1.0` prints when it refuses
 *   (after "buildq: "); none when there is no upload to accept;
 * - `leaves`: how it goes to rejected/: `clean-incoming` (problems at once,
 *   uploads not complete after Upload-Wait-Seconds) or `reject` (a complete
 *   upload the farm cannot take waits for the reviewer's `buildq reject`).
 */
import { link, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compress, entry, tarOf, type FixtureEntry } from '../opk/fixtures.js';
import {
  editChanges,
  garbage,
  gzipBomb,
  opkOf,
  replaceSourcePackage,
  sha256,
  sourceControl,
  spfEntries,
  standardMembers,
  uploadNames,
  VERSION,
  writeGoodUpload,
  zstdBomb,
} from './craft.js';

export interface MakeContext {
  readonly incoming: string;
  /** A directory outside the queue root, on its filesystem. */
  readonly scratch: string;
  /** The case's name: its source name. */
  readonly source: string;
}

export type ListedState = 'invalid' | 'waiting' | 'complete';

export interface UploadCase {
  readonly name: string;
  /** What is hostile about it, one line. */
  readonly hostile: string;
  readonly make: (context: MakeContext) => Promise<void>;
  readonly listed?: { readonly state: ListedState; readonly reasons?: readonly RegExp[] };
  readonly problems?: ReadonlyArray<readonly [name: string, kind: string]>;
  readonly accept?: RegExp;
  readonly leaves: 'clean-incoming' | 'reject';
}

const run = promisify(execFile);
const good = (context: MakeContext) => writeGoodUpload(context.incoming, context.scratch, context.source);
const opkName = (source: string) => uploadNames(source).opk;
const changesName = (source: string) => uploadNames(source).changes;

/** A good upload whose .changes is then edited. */
function changesEdit(edit: (text: string, source: string) => string): (context: MakeContext) => Promise<void> {
  return async (context) => {
    await good(context);
    await editChanges(context.incoming, context.source, (text) => edit(text, context.source));
  };
}

/** A good upload whose source package is then replaced, the .changes listing the new bytes truly. */
function sourcePackage(make: (source: string) => Promise<Buffer> | Buffer): (context: MakeContext) => Promise<void> {
  return async (context) => {
    await good(context);
    await replaceSourcePackage(context.incoming, context.source, await make(context.source));
  };
}

/** A good upload whose source package is then swapped for something else; the .changes is left as it was. */
function swapSourcePackage(swap: (path: string, context: MakeContext) => Promise<void>): (context: MakeContext) => Promise<void> {
  return async (context) => {
    await good(context);
    const path = join(context.incoming, opkName(context.source));
    await rm(path);
    await swap(path, context);
  };
}

/** Replaces the value of `field` in a .changes text. */
function setField(text: string, field: string, value: string): string {
  const pattern = new RegExp(`^${field}:.*$`, 'm');
  if (!pattern.test(text)) throw new Error(`no ${field} field to replace`);
  return text.replace(pattern, () => `${field}: ${value}`);
}

const invalid = (...reasons: RegExp[]) => ({ state: 'invalid' as const, reasons });
/** The accept refusal of an invalid upload: its reasons, joined as accept joins them. */
const refusedInvalid = (source: string, reason: string) => new RegExp(`^${escape(changesName(source))}: upload is invalid: ${reason}$`);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const OPK = (source: string) => escape(opkName(source));

export const UPLOAD_CASES: readonly UploadCase[] = [
  // --- the .changes itself ---
  {
    name: 'changes-garbage',
    hostile: 'the .changes is 4 KiB of binary garbage (NUL bytes included)',
    make: async ({ incoming, source }) => {
      const bytes = garbage(4096);
      bytes[100] = 0;
      await writeFile(join(incoming, changesName(source)), bytes);
    },
    listed: invalid(/^changes-garbage_1\.0\.changes:\d+: NUL byte in control data$/),
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-truncated',
    hostile: 'the .changes ends in the middle of its Checksums-Sha256 line',
    make: changesEdit((text) => text.slice(0, text.indexOf('Checksums-Sha256:') + 'Checksums-Sha256:\n '.length + 30)),
    listed: invalid(/^changes-truncated_1\.0\.changes:\d+: Checksums-Sha256 line "[0-9a-f]{30}" is not "<sha256> <size> <name>"$/),
    accept: refusedInvalid('changes-truncated', 'changes-truncated_1\\.0\\.changes:\\d+: Checksums-Sha256 line "[0-9a-f]{30}" is not "<sha256> <size> <name>"'),
    problems: [['changes-truncated_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-nul',
    hostile: 'a NUL byte in the Description of the .changes',
    make: changesEdit((text) => text.replace(/^Description:.*$/m, (line) => `${line}\u0000hidden`)),
    listed: invalid(/^changes-nul_1\.0\.changes:\d+: NUL byte in control data$/),
    problems: [['changes-nul_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-huge',
    hostile: 'a .changes of 2 MiB (one huge Description line)',
    make: changesEdit((text) => text.replace(/^Description:.*$/m, `Description: ${'x'.repeat(2 * 1024 * 1024)}`)),
    listed: invalid(/^changes-huge_1\.0\.changes: larger than 1048576 bytes$/),
    problems: [['changes-huge_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-long-source',
    hostile: 'a Source name of 120 characters, too long for the file names made of it',
    make: async (context) => {
      await good(context);
      const long = `${context.source}${'x'.repeat(120 - context.source.length)}`;
      const names = uploadNames(context.source);
      const longNames = uploadNames(long);
      await rename(join(context.incoming, names.opk), join(context.incoming, longNames.opk));
      await editChanges(context.incoming, context.source, (text) => text.replaceAll(context.source, long));
      await rename(join(context.incoming, names.changes), join(context.incoming, longNames.changes));
    },
    listed: invalid(
      /^changes-long-sourcex{101}_1\.0\.changes:\d+: Source: package name "changes-long-sourcex{21}…" is longer than 100 characters$/,
      /^changes-long-sourcex{101}_1\.0\.changes:\d+: Binary: package name "changes-long-sourcex{21}…" is longer than 100 characters$/,
    ),
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-wrong-sha256',
    hostile: 'Checksums-Sha256 gives another SHA-256 for the source package',
    make: changesEdit((text) => text.replace(/^ [0-9a-f]{64} /m, ` ${'0'.repeat(64)} `)),
    listed: invalid(/^changes-wrong-sha256_1\.0_src\.opk: SHA-256 is [0-9a-f]{64}, \.changes lists 0{64}$/),
    accept: refusedInvalid('changes-wrong-sha256', `${OPK('changes-wrong-sha256')}: SHA-256 is [0-9a-f]{64}, \\.changes lists 0{64}`),
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-wrong-md5',
    hostile: 'Files gives another MD5 for the source package',
    make: changesEdit((text) => text.replace(/^ [0-9a-f]{32} /m, ` ${'0'.repeat(32)} `)),
    listed: invalid(/^changes-wrong-md5_1\.0_src\.opk: MD5 is [0-9a-f]{32}, \.changes lists 0{32}$/),
    accept: refusedInvalid('changes-wrong-md5', `${OPK('changes-wrong-md5')}: MD5 is [0-9a-f]{32}, \\.changes lists 0{32}`),
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-size-smaller',
    hostile: 'the listed size is 10 bytes less than the file (in both lists)',
    make: changesEdit((text) => text.replace(/^( [0-9a-f]+ )(\d+)( \S+_src\.opk)$/gm, (_all, a: string, size: string, b: string) => `${a}${Number(size) - 10}${b}`)),
    listed: invalid(/^changes-size-smaller_1\.0_src\.opk: size is (\d+) bytes, \.changes lists \d+$/),
    accept: refusedInvalid('changes-size-smaller', `${OPK('changes-size-smaller')}: size is \\d+ bytes, \\.changes lists \\d+`),
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-size-larger',
    hostile: 'the listed size is larger than the file: it never completes',
    make: changesEdit((text) => text.replace(/^( [0-9a-f]+ )(\d+)( \S+_src\.opk)$/gm, (_all, a: string, size: string, b: string) => `${a}${Number(size) + 10}${b}`)),
    listed: { state: 'waiting' },
    accept: /^changes-size-larger_1\.0\.changes: upload is incomplete, waiting for changes-size-larger_1\.0_src\.opk$/,
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-missing-file',
    hostile: 'the .changes alone: its source package never arrives',
    make: async (context) => {
      await good(context);
      await rm(join(context.incoming, opkName(context.source)));
    },
    listed: { state: 'waiting' },
    accept: /^changes-missing-file_1\.0\.changes: upload is incomplete, waiting for changes-missing-file_1\.0_src\.opk$/,
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-size-overflow',
    hostile: 'a size of 99999999999999999999 bytes',
    make: changesEdit((text) => text.replace(/^( [0-9a-f]{64} )(\d+)/m, '$199999999999999999999')),
    listed: invalid(/^changes-size-overflow_1\.0\.changes:\d+: Checksums-Sha256: size "99999999999999999999" of "changes-size-overflow_1\.0_src\.opk" is too large$/),
    accept: /^changes-size-overflow_1\.0\.changes: upload is invalid: changes-size-overflow_1\.0\.changes:18: Checksums-Sha256: size "99999999999999999999" of "changes-size-overflow_1\.0_src\.opk" is too large$/,
    problems: [['changes-size-overflow_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-traversal-name',
    hostile: 'Checksums-Sha256 and Files name ../../../etc/passwd',
    make: changesEdit((text) => text.replace(/ (\S+_src\.opk)$/gm, ' ../../../etc/passwd')),
    listed: invalid(
      /^changes-traversal-name_1\.0\.changes:\d+: Checksums-Sha256: file name "\.\.\/\.\.\/\.\.\/etc\/passwd" is not a plain file name/,
      /^changes-traversal-name_1\.0\.changes:\d+: Files: file name "\.\.\/\.\.\/\.\.\/etc\/passwd" is not a plain file name/,
    ),
    accept: /^changes-traversal-name_1\.0\.changes: upload is invalid: .*"\.\.\/\.\.\/\.\.\/etc\/passwd" is not a plain file name/,
    problems: [['changes-traversal-name_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-absolute-name',
    hostile: 'Checksums-Sha256 names /etc/shadow',
    make: changesEdit((text) => text.replace(/ (\S+_src\.opk)$/m, ' /etc/shadow')),
    // While a Checksums-Sha256 line is malformed, what Files lists beyond it is not reported: that line is the one to fix.
    listed: invalid(/^changes-absolute-name_1\.0\.changes:\d+: Checksums-Sha256: file name "\/etc\/shadow" is not a plain file name/),
    accept: /^changes-absolute-name_1\.0\.changes: upload is invalid: .*"\/etc\/shadow" is not a plain file name/,
    problems: [['changes-absolute-name_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-extra-binary',
    hostile: 'the .changes also lists a prebuilt binary (uploads are source-only)',
    make: async (context) => {
      await good(context);
      const binary = Buffer.from('prebuilt\n');
      await writeFile(join(context.incoming, 'changes-extra-binary_1.0_all_all.opk'), binary);
      await editChanges(context.incoming, context.source, (text) =>
        text.replace(/^Checksums-Sha256:\n/m, `Checksums-Sha256:\n ${sha256(binary)} ${binary.length} changes-extra-binary_1.0_all_all.opk\n`),
      );
    },
    listed: invalid(/^changes-extra-binary_1\.0\.changes:\d+: "changes-extra-binary_1\.0_all_all\.opk" is not the source package "changes-extra-binary_1\.0_src\.opk": uploads are source-only$/),
    accept: /^changes-extra-binary_1\.0\.changes: upload is invalid: .*uploads are source-only$/,
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-duplicate-field',
    hostile: 'the Source field twice, the second naming another package',
    make: changesEdit((text) => text.replace(/^Source:.*$/m, (line) => `${line}\nSource: other`)),
    listed: invalid(/^changes-duplicate-field_1\.0\.changes:\d+: duplicate field "Source" \(first at line \d+\)$/),
    problems: [['changes-duplicate-field_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-two-stanzas',
    hostile: 'a second stanza appended to the .changes',
    make: changesEdit((text) => `${text}\nSource: other\nVersion: 9.9\n`),
    listed: invalid(/^changes-two-stanzas_1\.0\.changes: expected one stanza, found 2$/),
    problems: [['changes-two-stanzas_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-maintainer-cr',
    hostile: 'mail header injection: a CR and a Bcc header inside Maintainer',
    make: changesEdit((text) => setField(text, 'Maintainer', 'Evil\rBcc: victim@example.net <evil@example.org>')),
    listed: invalid(/^changes-maintainer-cr_1\.0\.changes:\d+: Maintainer "Evil\\rBcc: victim@example\.net <evil@example\.org>" is not "Name <address>"$/),
    accept: /^changes-maintainer-cr_1\.0\.changes: upload is invalid: .*Maintainer "Evil\\rBcc: .*is not "Name <address>"$/,
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-changed-by-cr',
    hostile: 'mail header injection: a CR and a Cc header inside Changed-By',
    make: changesEdit((text) => setField(text, 'Changed-By', 'Up Loader\rCc: victim@example.net <up@example.org>')),
    listed: invalid(/^changes-changed-by-cr_1\.0\.changes:\d+: Changed-By "Up Loader\\rCc: victim@example\.net <up@example\.org>" is not "Name <address>"$/),
    accept: /^changes-changed-by-cr_1\.0\.changes: upload is invalid: .*Changed-By "Up Loader\\rCc: .*is not "Name <address>"$/,
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-unknown-architecture',
    hostile: 'Architecture m68k-linux-glibc, which no build queue serves',
    make: changesEdit((text) => setField(text, 'Architecture', 'm68k-linux-glibc')),
    listed: { state: 'complete' },
    accept: /^changes-unknown-architecture_1\.0\.changes: no build queue serves m68k-linux-glibc$/,
    leaves: 'reject',
  },
  {
    name: 'changes-bad-architecture',
    hostile: 'Architecture "../../x", no architecture at all',
    make: changesEdit((text) => setField(text, 'Architecture', '../../x')),
    listed: invalid(/^changes-bad-architecture_1\.0\.changes:\d+: Architecture: architecture "\.\.\/\.\.\/x" must be all, any, src or <cpu>-<kernel>-<libc>$/),
    accept: /^changes-bad-architecture_1\.0\.changes: upload is invalid: .*must be all, any, src or <cpu>-<kernel>-<libc>$/,
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-unknown-platform',
    hostile: 'Platform "nosuch", which no build queue builds',
    make: changesEdit((text) => setField(text, 'Platform', 'nosuch')),
    listed: { state: 'complete' },
    accept: /^changes-unknown-platform_1\.0\.changes: no build queue builds platform nosuch$/,
    leaves: 'reject',
  },
  {
    name: 'changes-wrong-distribution',
    hostile: 'Distribution "stable", which this farm does not take',
    make: changesEdit((text) => setField(text, 'Distribution', 'stable')),
    listed: { state: 'complete' },
    accept: /^changes-wrong-distribution_1\.0\.changes: distribution "stable" is not one this farm accepts \(trunk\)$/,
    leaves: 'reject',
  },
  {
    name: 'changes-bad-version',
    hostile: 'Version "1.0;rm -rf /"',
    make: changesEdit((text) => setField(text, 'Version', '1.0;rm -rf /')),
    listed: invalid(/^changes-bad-version_1\.0\.changes:\d+: Version "1\.0;rm -rf \/": /),
    leaves: 'clean-incoming',
  },
  {
    name: 'changes-bad-format',
    hostile: 'Format 3.0, which opkfarm does not read',
    make: changesEdit((text) => setField(text, 'Format', '3.0')),
    listed: invalid(/^changes-bad-format_1\.0\.changes:\d+: Format "3\.0" is not supported \(only 1\.8\)$/),
    accept: /^changes-bad-format_1\.0\.changes: upload is invalid: .*Format "3\.0" is not supported \(only 1\.8\)$/,
    leaves: 'clean-incoming',
  },

  // --- what lies in incoming/ ---
  {
    name: 'incoming-changes-symlink',
    hostile: 'the .changes is a symbolic link to a good .changes outside incoming/',
    make: async (context) => {
      const outside = join(context.scratch, 'outside-changes');
      await mkdir(outside, { recursive: true });
      await writeGoodUpload(outside, context.scratch, context.source);
      await symlink(join(outside, changesName(context.source)), join(context.incoming, changesName(context.source)));
    },
    problems: [['incoming-changes-symlink_1.0.changes', 'symlink']],
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-opk-symlink',
    hostile: 'the source package is a symbolic link to the right bytes outside incoming/',
    make: swapSourcePackage(async (path, context) => {
      const outside = join(context.scratch, 'outside-opk');
      await mkdir(outside, { recursive: true });
      await writeGoodUpload(outside, context.scratch, context.source);
      await symlink(join(outside, opkName(context.source)), path);
    }),
    listed: invalid(/^incoming-opk-symlink_1\.0_src\.opk: is a symbolic link, not a regular file$/),
    problems: [['incoming-opk-symlink_1.0_src.opk', 'symlink']],
    accept: refusedInvalid('incoming-opk-symlink', `${OPK('incoming-opk-symlink')}: is a symbolic link, not a regular file`),
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-opk-hardlink',
    hostile: 'the source package is a hard link to a file outside incoming/',
    make: swapSourcePackage(async (path, context) => {
      const outside = join(context.scratch, 'outside-hardlink');
      await mkdir(outside, { recursive: true });
      await writeGoodUpload(outside, context.scratch, context.source);
      await link(join(outside, opkName(context.source)), path);
    }),
    listed: invalid(/^incoming-opk-hardlink_1\.0_src\.opk: has 2 hard links; an uploaded file must have exactly one$/),
    problems: [['incoming-opk-hardlink_1.0_src.opk', 'hard-link']],
    accept: refusedInvalid('incoming-opk-hardlink', `${OPK('incoming-opk-hardlink')}: has 2 hard links; an uploaded file must have exactly one`),
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-opk-fifo',
    hostile: 'the source package is a FIFO (a reader would block on it)',
    make: swapSourcePackage(async (path) => {
      await run('mkfifo', [path]);
    }),
    listed: invalid(/^incoming-opk-fifo_1\.0_src\.opk: is a FIFO, not a regular file$/),
    problems: [['incoming-opk-fifo_1.0_src.opk', 'special']],
    accept: refusedInvalid('incoming-opk-fifo', `${OPK('incoming-opk-fifo')}: is a FIFO, not a regular file`),
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-opk-directory',
    hostile: 'the source package is a directory',
    make: swapSourcePackage(async (path) => {
      await mkdir(path);
      await writeFile(join(path, 'inside'), 'x');
    }),
    listed: invalid(/^incoming-opk-directory_1\.0_src\.opk: is a directory, not a regular file$/),
    problems: [['incoming-opk-directory_1.0_src.opk', 'directory']],
    accept: refusedInvalid('incoming-opk-directory', `${OPK('incoming-opk-directory')}: is a directory, not a regular file`),
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-bad-name',
    hostile: 'files named "-rf --no-preserve-root" and "a..b.opk"',
    make: async ({ incoming }) => {
      await writeFile(join(incoming, '-rf --no-preserve-root'), 'x');
      await writeFile(join(incoming, 'a..b.opk'), 'x');
    },
    problems: [
      ['-rf --no-preserve-root', 'bad-name'],
      ['a..b.opk', 'bad-name'],
    ],
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-partial',
    hostile: 'an upload temporary (.tmp-upload-<name>) left unfinished',
    make: async ({ incoming, source }) => {
      await writeFile(join(incoming, `.tmp-upload-${opkName(source)}`), garbage(100));
    },
    problems: [['.tmp-upload-incoming-partial_1.0_src.opk', 'partial']],
    leaves: 'clean-incoming',
  },
  {
    name: 'incoming-stray',
    hostile: 'a file no .changes lists',
    make: async ({ incoming, source }) => {
      await writeFile(join(incoming, opkName(source)), garbage(100));
    },
    problems: [['incoming-stray_1.0_src.opk', 'stray']],
    leaves: 'clean-incoming',
  },

  // --- the source package ---
  {
    name: 'opk-garbage',
    hostile: 'the source package is 4 KiB of garbage',
    make: sourcePackage(() => garbage(4096)),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-garbage', `${OPK('opk-garbage')}: not an opk: expected an ar archive, a tar archive or a gzip-compressed tar archive`),
    leaves: 'reject',
  },
  {
    name: 'opk-empty',
    hostile: 'the source package is empty',
    make: sourcePackage(() => Buffer.alloc(0)),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-empty', `${OPK('opk-empty')}: empty file`),
    leaves: 'reject',
  },
  {
    name: 'opk-truncated-gzip',
    hostile: 'the source package (gzip-compressed tar) cut in half',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const whole = await opkOf([members.debianBinary, members.control, members.data]);
      return whole.subarray(0, Math.floor(whole.length / 2));
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-truncated-gzip', `${OPK('opk-truncated-gzip')}: outer archive: truncated: gzip data ends early \\(unexpected end of file\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-truncated-ar',
    hostile: 'an ar source package cut inside its data member',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const whole = await opkOf([members.debianBinary, members.control, members.data], 'ar');
      return whole.subarray(0, whole.length - 20);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-truncated-ar', `${OPK('opk-truncated-ar')}: truncated ar archive: member "data\\.tar\\.gz" is cut short \\(expected \\d+ bytes\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-truncated-tar',
    hostile: 'a plain tar source package cut inside its control member',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const whole = await opkOf([members.debianBinary, members.control, members.data], 'tar');
      return whole.subarray(0, 1024 + 512 + 40);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-truncated-tar', `${OPK('opk-truncated-tar')}: outer archive: truncated tar archive: entry "\\./control\\.tar\\.gz" is cut short`),
    leaves: 'reject',
  },
  {
    name: 'opk-bad-inner-magic',
    hostile: 'data.tar.gz holds plain text, no archive',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      return opkOf([members.debianBinary, members.control, { name: 'data.tar.gz', content: Buffer.from('hello, this is not a tar archive\n'.repeat(40)) }]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-bad-inner-magic', `${OPK('opk-bad-inner-magic')}: data\\.tar\\.gz: not a tar archive, or a corrupt tar header at offset 0 \\(checksum mismatch\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-corrupt-gzip',
    hostile: 'data.tar.gz with its compressed bytes overwritten in the middle',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const data = Buffer.from(members.data.content);
      data.fill(0xff, 20, data.length - 20);
      return opkOf([members.debianBinary, members.control, { name: 'data.tar.gz', content: data }]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-corrupt-gzip', `${OPK('opk-corrupt-gzip')}: data\\.tar\\.gz: corrupt gzip data: [^;]+`),
    leaves: 'reject',
  },
  {
    name: 'opk-truncated-xz',
    hostile: 'data.tar.xz cut short (decompressed by the xz tool)',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const xz = await compress(await tarOf(spfEntries(source)), 'xz');
      return opkOf([members.debianBinary, members.control, { name: 'data.tar.xz', content: xz.subarray(0, xz.length - 30) }]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-truncated-xz', `${OPK('opk-truncated-xz')}: data\\.tar\\.xz: truncated: xz reports "Unexpected end of input"`),
    leaves: 'reject',
  },
  {
    name: 'opk-missing-data',
    hostile: 'a source package without a data member',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      return opkOf([members.debianBinary, members.control]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-missing-data', `${OPK('opk-missing-data')}: no data\\.tar\\.\\* member`),
    leaves: 'reject',
  },
  {
    name: 'opk-debian-binary-3',
    hostile: 'debian-binary says 3.0',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      return opkOf([{ name: 'debian-binary', content: Buffer.from('3.0\n') }, members.control, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-debian-binary-3', `${OPK('opk-debian-binary-3')}: debian-binary: unsupported package format "3\\.0" \\(expected 2\\.x\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-member-traversal',
    hostile: 'an outer member named ../../control.tar.gz',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      return opkOf([members.debianBinary, { name: '../../control.tar.gz', content: members.control.content }, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-member-traversal', `${OPK('opk-member-traversal')}: unexpected member "\\./\\.\\./\\.\\./control\\.tar\\.gz" \\(an opk holds debian-binary, control\\.tar\\.\\* and data\\.tar\\.\\*\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-traversal',
    hostile: 'a data entry usr/src/<tree>/../../../../etc/cron.d/evil',
    make: sourcePackage(async (source) =>
      opkFromData(source, spfEntries(source, [entry.file(`./usr/src/${source}_${VERSION}/../../../../etc/cron.d/evil`, '* * * * * root sh\n')])),
    ),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-traversal', `${OPK('opk-traversal')}: data\\.tar\\.gz: entry ".*": path has a "\\.\\." component`),
    leaves: 'reject',
  },
  {
    name: 'opk-absolute-path',
    hostile: 'a data entry /etc/passwd',
    make: sourcePackage(async (source) => opkFromData(source, spfEntries(source, [entry.file('/etc/passwd', 'root::0:0::/:/bin/sh\n')]))),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-absolute-path', `${OPK('opk-absolute-path')}: data\\.tar\\.gz: entry "/etc/passwd": absolute path`),
    leaves: 'reject',
  },
  {
    name: 'opk-symlink-escape',
    hostile: 'a symlink in the source tree to ../../../../../../etc/shadow',
    make: sourcePackage(async (source) =>
      opkFromData(source, spfEntries(source, [entry.symlink(`./usr/src/${source}_${VERSION}/shadow`, '../../../../../../etc/shadow')])),
    ),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-symlink-escape', `${OPK('opk-symlink-escape')}: data\\.tar\\.gz: entry ".*/shadow": symlink to "\\.\\./\\.\\./\\.\\./\\.\\./\\.\\./\\.\\./etc/shadow" escapes the package root`),
    leaves: 'reject',
  },
  {
    name: 'opk-through-symlink',
    hostile: 'a symlink to a directory, then a file written through it',
    make: sourcePackage(async (source) =>
      opkFromData(
        source,
        spfEntries(source, [entry.symlink(`./usr/src/${source}_${VERSION}/link`, '/etc'), entry.file(`./usr/src/${source}_${VERSION}/link/passwd`, 'x')]),
      ),
    ),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-through-symlink', `${OPK('opk-through-symlink')}: data\\.tar\\.gz: entry ".*/link/passwd": path goes through symlink ".*/link" defined earlier`),
    leaves: 'reject',
  },
  {
    name: 'opk-hardlink-escape',
    hostile: 'a hard link to /etc/shadow',
    make: sourcePackage(async (source) => opkFromData(source, spfEntries(source, [entry.link(`./usr/src/${source}_${VERSION}/shadow`, '/etc/shadow')]))),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-hardlink-escape', `${OPK('opk-hardlink-escape')}: data\\.tar\\.gz: entry ".*/shadow": hard link to absolute path "/etc/shadow"`),
    leaves: 'reject',
  },
  {
    name: 'opk-hardlink-later',
    hostile: 'a hard link to a file that only comes later in the archive',
    make: sourcePackage(async (source) => {
      const tree = `./usr/src/${source}_${VERSION}`;
      return opkFromData(source, spfEntries(source, [entry.link(`${tree}/early`, `${tree}/late`), entry.file(`${tree}/late`, 'x')]));
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-hardlink-later', `${OPK('opk-hardlink-later')}: data\\.tar\\.gz: entry ".*/early": hard link to ".*/late", which is not an earlier file in the archive`),
    leaves: 'reject',
  },
  {
    name: 'opk-device',
    hostile: 'a character device node in the data',
    make: sourcePackage(async (source) =>
      opkFromData(source, spfEntries(source, [{ header: { name: `./usr/src/${source}_${VERSION}/mem`, type: 'character-device', devmajor: 1, devminor: 1, mode: 0o666 } }])),
    ),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-device', `${OPK('opk-device')}: data\\.tar\\.gz: entry "\\./usr/src/opk-device_1\\.0/mem": character device`),
    leaves: 'reject',
  },
  {
    name: 'opk-control-bomb',
    hostile: 'control.tar.gz inflating to 64 MiB (a 64 KiB member)',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const bomb = await gzipBomb([entry.dir('./'), entry.file('./control', sourceControl(source))], './postinst', 1 / 16);
      return opkOf([members.debianBinary, { name: 'control.tar.gz', content: bomb }, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-control-bomb', `${OPK('opk-control-bomb')}: control\\.tar\\.gz: control file "postinst" is larger than 1048576 bytes`),
    leaves: 'reject',
  },
  {
    name: 'opk-control-archive-bomb',
    hostile: 'control.tar.gz of 24 files of 1,000,000 zeros each: every file under its limit, the archive over its own',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source, {
        controlEntries: [
          entry.dir('./'),
          entry.file('./control', sourceControl(source)),
          ...Array.from({ length: 24 }, (_unused, index) => entry.file(`./padding${index}`, Buffer.alloc(1_000_000))),
        ],
      });
      return opkOf([members.debianBinary, members.control, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-control-archive-bomb', `${OPK('opk-control-archive-bomb')}: control\\.tar\\.gz: larger than 16777216 bytes once decompressed`),
    leaves: 'reject',
  },
  {
    name: 'opk-data-bomb',
    hostile: 'data.tar.gz of 4 MiB inflating to 4 GiB of zeros',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const bomb = await gzipBomb(spfEntries(source), `./usr/src/${source}_${VERSION}/src/zeros`, 4);
      return opkOf([members.debianBinary, members.control, { name: 'data.tar.gz', content: bomb }]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-data-bomb', `${OPK('opk-data-bomb')}: data\\.tar\\.gz: larger than 67108864 bytes once decompressed \\(Unpacked-Size-Limit\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-zstd-bomb',
    hostile: 'data.tar.zst of a few KiB inflating to 256 MiB (decompressed by the zstd tool, stopped at the limit)',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source);
      const bomb = await zstdBomb(spfEntries(source), `./usr/src/${source}_${VERSION}/src/zeros`, 256);
      return opkOf([members.debianBinary, members.control, { name: 'data.tar.zst', content: bomb }]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-zstd-bomb', `${OPK('opk-zstd-bomb')}: data\\.tar\\.zst: larger than 67108864 bytes once decompressed \\(Unpacked-Size-Limit\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-wrong-package',
    hostile: 'the source package says it is src-other',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source, { control: sourceControl(source, { Package: 'src-other' }) });
      return opkOf([members.debianBinary, members.control, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-wrong-package', `${OPK('opk-wrong-package')}: control field Package is "src-other", expected "src-opk-wrong-package"`),
    leaves: 'reject',
  },
  {
    name: 'opk-wrong-version',
    hostile: 'the source package says it is version 0.1',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source, { control: sourceControl(source, { Version: '0.1' }) });
      return opkOf([members.debianBinary, members.control, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-wrong-version', `${OPK('opk-wrong-version')}: control field Version is "0\\.1", expected "1\\.0"`),
    leaves: 'reject',
  },
  {
    name: 'opk-not-spf',
    hostile: 'a source tree without its build makefile',
    make: sourcePackage(async (source) => opkFromData(source, spfEntries(source).filter((item) => !item.header.name.endsWith('/build')))),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-not-spf', `${OPK('opk-not-spf')}: usr/src/opk-not-spf_1\\.0/ lacks build \\(not an SPF 2\\.0 source package\\)`),
    leaves: 'reject',
  },
  {
    name: 'opk-nul-control',
    hostile: 'a NUL byte in the source package\'s control file',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source, { control: sourceControl(source, { Description: 'evil\u0000hidden' }) });
      return opkOf([members.debianBinary, members.control, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-nul-control', `${OPK('opk-nul-control')}: control\\.tar\\.gz/control:6: NUL byte in control data`),
    leaves: 'reject',
  },
  {
    name: 'opk-huge-control',
    hostile: 'a control file of 2 MiB (one huge Description line)',
    make: sourcePackage(async (source) => {
      const members = await standardMembers(source, { control: sourceControl(source, { Description: 'x'.repeat(2 * 1024 * 1024) }) });
      return opkOf([members.debianBinary, members.control, members.data]);
    }),
    listed: { state: 'complete' },
    accept: refusedInvalid('opk-huge-control', `${OPK('opk-huge-control')}: control\\.tar\\.gz: control file "control" is larger than 1048576 bytes`),
    leaves: 'reject',
  },
];

/** A source package with the usual control and this data archive. */
async function opkFromData(source: string, data: readonly FixtureEntry[]): Promise<Buffer> {
  const members = await standardMembers(source, { data });
  return opkOf([members.debianBinary, members.control, members.data]);
}
