/**
 * Helpers for the archive tests: a fresh queue root, opk packages written
 * with the real writer (and, for hostile ones, assembled by hand with
 * tar-stream, which writes any header), and archive-queue entries laid out
 * as buildd and builddd leave them.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

import tarStream from 'tar-stream';
import { afterEach } from 'vitest';

import { formatChanges } from '../../lib/formats/changes.js';
import { formatStanza, Stanza } from '../../lib/formats/control.js';
import { versionForFileName } from '../../lib/formats/version.js';
import { QueueLayout, uploadKey } from '../../lib/layout.js';
import { writeOpk } from '../../lib/opk/write.js';

const made: string[] = [];

afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory, removed after the current test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'opkfarm-archive-'));
  made.push(dir);
  return dir;
}

/** A fresh queue root with every directory `init` creates. */
export async function queueRoot(): Promise<QueueLayout> {
  const layout = new QueueLayout(join(await tempDir(), 'root'));
  for (const directory of layout.directories()) await mkdir(directory, { recursive: true });
  return layout;
}

export const MAINTAINER = 'Ann Example <ann@example.org>';
export const UPLOADER = 'Bob Example <bob@example.org>';

/** A binary package a build produced. */
export interface PackageSpec {
  readonly package: string;
  /** Control fields to set or override (in this order after the usual ones); undefined removes a field. */
  readonly fields?: Readonly<Record<string, string | undefined>>;
  /** Give the data archive an entry "./../escape" (written by hand: writeOpk refuses it). */
  readonly unsafe?: boolean;
  /** Name in the entry, when not `<package>_<version>_<arch>_<plat>.opk`. */
  readonly fileName?: string;
}

export interface BuildSpec {
  readonly architecture: string;
  readonly platform?: string;
  readonly status?: 'ok' | 'failed';
  readonly packages?: readonly PackageSpec[];
  /** Binaries field, when not the packages' file names. */
  readonly listed?: readonly string[];
  readonly error?: string;
  /** Write the log (default true). */
  readonly log?: boolean;
}

export interface UploadSpec {
  readonly sequence: number;
  readonly source: string;
  readonly version: string;
  readonly distribution?: string;
  /** The .changes Binary list (default: every package of every build). */
  readonly binaries?: readonly string[];
  readonly builds: readonly BuildSpec[];
  /** Fields to set on the source package's control. */
  readonly sourceFields?: Readonly<Record<string, string | undefined>>;
  /** Leave out the source package: an entry whose builds are still coming. */
  readonly withoutSource?: boolean;
}

/** The control stanza of a package: the usual fields, then `fields` applied. */
export function controlOf(base: ReadonlyArray<readonly [string, string]>, fields: Readonly<Record<string, string | undefined>> = {}): Stanza {
  const stanza = new Stanza(base);
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) stanza.delete(name);
    else stanza.set(name, value);
  }
  return stanza;
}

/** Writes an opk with the real writer: `control`, and a data tree of `files` (path → content). */
export async function writePackage(destination: string, control: Stanza, files: Readonly<Record<string, string>> = {}): Promise<void> {
  const data = join(await tempDir(), 'data');
  await mkdir(data, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(data, path, '..'), { recursive: true });
    await writeFile(join(data, path), content);
  }
  await writeOpk({ destination, control, dataDirectory: data, sourceDateEpoch: 0 });
}

/** Writes an opk whose data archive holds "./../escape", which readOpk must refuse. */
export async function writeUnsafePackage(destination: string, control: Stanza): Promise<void> {
  const controlTar = await tarOf([
    { name: './', type: 'directory', mode: 0o755 },
    { name: './control', type: 'file', mode: 0o644, content: formatStanza(control) },
  ]);
  const dataTar = await tarOf([
    { name: './', type: 'directory', mode: 0o755 },
    { name: './../escape', type: 'file', mode: 0o644, content: 'outside\n' },
  ]);
  const outer = await tarOf([
    { name: './debian-binary', type: 'file', mode: 0o644, content: '2.0\n' },
    { name: './control.tar.gz', type: 'file', mode: 0o644, content: gzipSync(controlTar) },
    { name: './data.tar.gz', type: 'file', mode: 0o644, content: gzipSync(dataTar) },
  ]);
  await writeFile(destination, gzipSync(outer));
}

interface TarItem {
  readonly name: string;
  readonly type: 'file' | 'directory';
  readonly mode: number;
  readonly content?: string | Buffer;
}

async function tarOf(items: readonly TarItem[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const item of items) {
    const header = { name: item.name, type: item.type, mode: item.mode, mtime: new Date(0) };
    if (item.content === undefined) pack.entry(header);
    else pack.entry(header, typeof item.content === 'string' ? Buffer.from(item.content) : item.content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The usual name of a binary in an archive-queue entry. */
export function binaryFileName(pkg: string, version: string, architecture: string, platform: string): string {
  return `${pkg}_${versionForFileName(version)}_${architecture}_${platform}.opk`;
}

/** A Description with continuation lines, to check they survive into the index. */
export const DESCRIPTION = 'says hello\n A friendly program.\n .\n It greets.';

/** Lays out a complete archive-queue entry (the source package last); returns its key. */
export async function makeEntry(layout: QueueLayout, spec: UploadSpec): Promise<string> {
  const key = uploadKey(spec.sequence, spec.source, spec.version);
  const entry = layout.archiveQueueEntry(key);
  await mkdir(entry, { recursive: true });
  const allPackages: string[] = [];
  for (const build of spec.builds) {
    const platform = build.platform ?? 'all';
    const status = build.status ?? 'ok';
    const names: string[] = [];
    for (const pkg of build.packages ?? []) {
      allPackages.push(pkg.package);
      const control = controlOf(
        [
          ['Package', pkg.package],
          ...(pkg.package === spec.source ? [] : ([['Source', spec.source]] as const)),
          ['Version', spec.version],
          ['Architecture', build.architecture],
          ['Platform', platform],
          ['Maintainer', MAINTAINER],
          ['Description', DESCRIPTION],
        ],
        pkg.fields,
      );
      const name = pkg.fileName ?? binaryFileName(pkg.package, spec.version, build.architecture, platform);
      names.push(name);
      if (pkg.unsafe) await writeUnsafePackage(join(entry, name), control);
      else await writePackage(join(entry, name), control, { [`usr/share/${pkg.package}/README`]: `${pkg.package} ${spec.version}\n` });
    }
    const stem = `${build.architecture}_${platform}`;
    if (build.log ?? true) await writeFile(join(entry, `${stem}.log`), `building ${spec.source} for ${stem}\n${status}\n`);
    const result = new Stanza([
      ['Status', status],
      ['Architecture', build.architecture],
      ['Platform', platform],
      ['Host', 'builder1'],
      ['Started', '2024-05-01T10:00:00Z'],
      ['Finished', '2024-05-01T10:01:00Z'],
      ['Duration', '60'],
      ['Binaries', (build.listed ?? names).join(' ')],
      ...(build.error === undefined ? [] : ([['Error', build.error]] as const)),
    ]);
    await writeFile(join(entry, `${stem}.result`), formatStanza(result));
  }
  const changes = formatChanges({
    date: 'Wed, 01 May 2024 10:00:00 +0000',
    source: spec.source,
    binaries: [...(spec.binaries ?? allPackages)],
    architectures: ['any', 'all'],
    platforms: ['all'],
    version: spec.version,
    distribution: spec.distribution ?? 'trunk',
    maintainer: MAINTAINER,
    changedBy: UPLOADER,
    description: '',
    changesText: '',
    files: [{ name: `${spec.source}_${versionForFileName(spec.version)}_src.opk`, size: 1, sha256: 'a'.repeat(64) }],
  });
  await writeFile(join(entry, `${key}.changes`), changes);
  if (!spec.withoutSource) {
    const control = controlOf(
      [
        ['Package', `src-${spec.source}`],
        ['Version', spec.version],
        ['Architecture', 'src'],
        ['Platform', 'all'],
        ['Maintainer', MAINTAINER],
        ['Description', `source of ${spec.source}`],
      ],
      spec.sourceFields,
    );
    const tree = `usr/src/${spec.source}_${versionForFileName(spec.version)}`;
    await writePackage(join(entry, `${key}.opk`), control, {
      [`${tree}/format`]: '2.0\n',
      [`${tree}/changelog`]: changelogOf(spec.source, spec.version, spec.distribution ?? 'trunk'),
    });
  }
  return key;
}

/** A change log whose first entry is this upload, as a source package carries it (its distribution decides the suite). */
export function changelogOf(source: string, version: string, distribution: string): string {
  return `${source} (${version}) ${distribution}; urgency=low\n\n  * Upload.\n\n -- ${MAINTAINER}  Wed, 01 May 2024 10:00:00 +0000\n`;
}

/** Every file under `dir` (symlinks and directories excluded), relative path → SHA-256, sorted. */
export async function snapshot(dir: string, skip: (path: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).filter((found) => found.isFile())) {
    const path = join(entry.parentPath, entry.name);
    const name = relative(dir, path);
    if (skip(name)) continue;
    out[name] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** SHA-256 and MD5 of a file, hex. */
export async function digests(path: string): Promise<{ size: number; sha256: string; md5: string }> {
  const content = await readFile(path);
  return {
    size: content.length,
    sha256: createHash('sha256').update(content).digest('hex'),
    md5: createHash('md5').update(content).digest('hex'),
  };
}
