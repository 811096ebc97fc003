/**
 * The hostile build corpus: what a broken or malicious builder may leave in
 * its output directory. Each case is an upload of its own source (its name,
 * one binary package of the same name, Architecture all) whose build, by
 * the corpus builder (built-packages.test.ts), leaves `outputs` instead of a
 * good package; `archived` says what the real buildd, builddd and archived
 * make of it. README.md here lists every case.
 */
import { Stanza, formatStanza } from '../../lib/formats/control.js';
import { controlOf, writePackage, writeUnsafePackage } from '../archive/fixtures.js';
import { entry } from '../opk/fixtures.js';
import { garbage, gzipBomb, opkOf, VERSION } from './craft.js';
import { gzipSync } from 'node:zlib';
import { tarOf } from '../opk/fixtures.js';
import { symlink, writeFile } from 'node:fs/promises';

/** The file the builder renames to `<key>.opk`, the name of the entry's source package. */
export const KEY_NAMED = 'KEY.opk';

export interface BuiltCase {
  readonly name: string;
  readonly hostile: string;
  /** Writes the builder's outputs for this source into `directory` (the builder copies them, links as links). */
  readonly outputs: (directory: string, source: string) => Promise<void>;
  /** What comes of it: refused by archived with this reason, or a failed build with this Error. */
  readonly outcome: { readonly refused: RegExp } | { readonly failedBuild: RegExp };
}

/** The binary's usual file name. */
export function binaryName(source: string): string {
  return `${source}_${VERSION}_all_all.opk`;
}

function binaryControl(source: string, fields: Readonly<Record<string, string | undefined>> = {}): Stanza {
  return controlOf(
    [
      ['Package', source],
      ['Version', VERSION],
      ['Architecture', 'all'],
      ['Platform', 'all'],
      ['Maintainer', 'Test Maintainer <maintainer@example.org>'],
      ['Description', `test package ${source}`],
    ],
    fields,
  );
}

/** A binary written by the real writer with these control fields changed. */
function withControl(fields: Readonly<Record<string, string | undefined>>): BuiltCase['outputs'] {
  return (directory, source) => writePackage(`${directory}/${binaryName(source)}`, binaryControl(source, fields), { [`usr/share/${source}/x`]: 'x\n' });
}

/** A binary assembled by hand: `control` as given, and these data entries. */
async function handMade(path: string, control: string, data: Buffer): Promise<void> {
  const controlTar = gzipSync(await tarOf([entry.dir('./'), entry.file('./control', control)]));
  await writeFile(path, await opkOf([
    { name: 'debian-binary', content: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', content: controlTar },
    { name: 'data.tar.gz', content: data },
  ]));
}

export const BUILT_CASES: readonly BuiltCase[] = [
  {
    name: 'bin-wrong-source',
    hostile: 'the binary says Source: other',
    outputs: withControl({ Source: 'other' }),
    outcome: { refused: /^bin-wrong-source_1\.0_all_all\.opk: Source "other" is not the upload's source "bin-wrong-source"$/ },
  },
  {
    name: 'bin-wrong-version',
    hostile: 'the binary says Version: 9.9',
    outputs: withControl({ Version: '9.9' }),
    outcome: { refused: /^bin-wrong-version_1\.0_all_all\.opk: Version "9\.9" is not the upload's version "1\.0"$/ },
  },
  {
    name: 'bin-wrong-architecture',
    hostile: 'an `all` build leaves a binary for amd64-linux-glibc',
    outputs: withControl({ Architecture: 'amd64-linux-glibc' }),
    outcome: { refused: /^bin-wrong-architecture_1\.0_all_all\.opk: Architecture "amd64-linux-glibc" is not the build's architecture "all"$/ },
  },
  {
    name: 'bin-wrong-platform',
    hostile: 'the binary says Platform: dev in a build for platform all',
    outputs: withControl({ Platform: 'dev' }),
    outcome: { refused: /^bin-wrong-platform_1\.0_all_all\.opk: Platform "dev" is not the build's platform "all"$/ },
  },
  {
    name: 'bin-src-prefix',
    hostile: 'the binary calls itself src-bin-src-prefix, a source package name',
    outputs: async (directory, source) => {
      const stanza = binaryControl(source, { Package: `src-${source}`, Source: source });
      await writePackage(`${directory}/${binaryName(source)}`, stanza, { 'usr/share/x': 'x\n' });
    },
    outcome: { refused: /^bin-src-prefix_1\.0_all_all\.opk: Package "src-bin-src-prefix" uses the prefix "src-", reserved for source packages$/ },
  },
  {
    name: 'bin-not-listed',
    hostile: 'a binary the .changes does not announce (Package: intruder)',
    outputs: withControl({ Package: 'intruder', Source: 'bin-not-listed' }),
    outcome: { refused: /^bin-not-listed_1\.0_all_all\.opk: Package "intruder" is not a binary of this upload \(the \.changes lists bin-not-listed\)$/ },
  },
  {
    name: 'bin-traversal',
    hostile: 'a binary whose data holds ./../escape',
    outputs: (directory, source) => writeUnsafePackage(`${directory}/${binaryName(source)}`, binaryControl(source)),
    outcome: { refused: /^bin-traversal_1\.0_all_all\.opk: data\.tar\.gz: entry "\.\/\.\.\/escape": path has a "\.\." component$/ },
  },
  {
    name: 'bin-symlink-escape',
    hostile: 'a binary with a symlink to ../../../etc/shadow',
    outputs: async (directory, source) =>
      handMade(
        `${directory}/${binaryName(source)}`,
        formatStanza(binaryControl(source)),
        gzipSync(await tarOf([entry.dir('./'), entry.dir('./etc/'), entry.symlink('./etc/shadow', '../../../etc/shadow')])),
      ),
    outcome: { refused: /^bin-symlink-escape_1\.0_all_all\.opk: data\.tar\.gz: entry "\.\/etc\/shadow": symlink to "\.\.\/\.\.\/\.\.\/etc\/shadow" escapes the package root$/ },
  },
  {
    name: 'bin-not-an-opk',
    hostile: 'the output is 4 KiB of garbage named like a package',
    outputs: async (directory, source) => writeFile(`${directory}/${binaryName(source)}`, garbage(4096)),
    outcome: { refused: /^bin-not-an-opk_1\.0_all_all\.opk: not an opk: expected an ar archive, a tar archive or a gzip-compressed tar archive$/ },
  },
  {
    name: 'bin-data-bomb',
    hostile: 'a binary whose data.tar.gz inflates to 4 GiB',
    outputs: async (directory, source) =>
      handMade(`${directory}/${binaryName(source)}`, formatStanza(binaryControl(source)), await gzipBomb([entry.dir('./')], './zeros', 4)),
    outcome: { refused: /^bin-data-bomb_1\.0_all_all\.opk: data\.tar\.gz: larger than 67108864 bytes once decompressed \(Unpacked-Size-Limit\)$/ },
  },
  {
    name: 'bin-maintainer-cr',
    hostile: 'a binary whose Maintainer carries a CR (it would split the index stanza)',
    outputs: async (directory, source) =>
      handMade(
        `${directory}/${binaryName(source)}`,
        formatStanza(binaryControl(source)).replace(/^Maintainer: .*$/m, 'Maintainer: Evil\rFilename: ../../../etc/passwd <evil@example.org>'),
        gzipSync(await tarOf([entry.dir('./')])),
      ),
    outcome: { refused: /^bin-maintainer-cr_1\.0_all_all\.opk: the control file cannot be written into an index: field "Maintainer" has a NUL or CR character$/ },
  },
  {
    name: 'bin-symlink-output',
    hostile: 'the only output is a symbolic link to /etc/passwd named like a package',
    outputs: async (directory, source) => symlink('/etc/passwd', `${directory}/${binaryName(source)}`),
    outcome: { failedBuild: /^the builder succeeded but produced no package$/ },
  },
  {
    name: 'bin-named-like-source',
    hostile: "an output named <key>.opk, the name of the entry's source package (its completion marker)",
    outputs: async (directory, source) => writePackage(`${directory}/${KEY_NAMED}`, binaryControl(source), { 'usr/share/x': 'x\n' }),
    outcome: {
      failedBuild: /^the builder left \d{10}_bin-named-like-source_1\.0\.opk, the name of the upload's source package in the archive queue, not of a binary package$/,
    },
  },
  {
    name: 'bin-hidden-output',
    hostile: 'an output named .tmp-evil.opk, a temporary name every reader skips',
    outputs: async (directory, source) => writePackage(`${directory}/.tmp-evil.opk`, binaryControl(source), { 'usr/share/x': 'x\n' }),
    outcome: {
      failedBuild: /^the builder left an output whose file name "\.tmp-evil\.opk" is not a plain file name \(\[A-Za-z0-9\]\[A-Za-z0-9\+\._~-\]\*, without "\.\."\)$/,
    },
  },
];
