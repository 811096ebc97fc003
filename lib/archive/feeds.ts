/**
 * Feed indexes: `archive/feeds/dev/<distribution>/<arch>/<plat>/<section>/Packages`
 * and `Packages.gz`, one feed per architecture (`all` and `src` included),
 * platform and section (FORMATS.md).
 *
 * Reads the existing Packages files of the architecture/platform pairs an
 * inclusion touches (a Packages file is itself the record of the indexed
 * control stanzas, so no package is re-read), and writes back only the
 * feeds that change. Each stanza is the package's control fields in their
 * order, then Filename (relative to the feed directory), Size, MD5Sum and
 * SHA256sum, opkg's spellings; stanzas are sorted by Package.
 *
 * One stanza per package name and architecture/platform pair: a package is
 * in one section of a suite, so a new version whose Section changed leaves
 * the old section's feed. Callers decide with `indexedVersion` whether a
 * package replaces the indexed one (newer or same version) or is superseded.
 *
 * Packages.gz is written before Packages, each under a temporary name then
 * renamed (lib/fs/atomic.ts): a reader sees a whole old or a whole new file,
 * and a crash between the two leaves Packages, the record, as it was, so the
 * next run rewrites both. Writing assumes the archive lock is held.
 *
 * A long-running writer (archived) keeps groups between inclusions and asks
 * `isCurrent` before reusing one: every write replaces a Packages file by
 * rename, so a file another process wrote has another inode, size or mtime.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { constants, gzipSync } from 'node:zlib';

/**
 * zlib's default level: an index is rewritten on every inclusion, and at
 * level 9 gzip took 2.6 s of archived's 16 s of CPU in the 500-upload
 * pipeline benchmark, for a file barely smaller.
 */
const GZIP_LEVEL = constants.Z_DEFAULT_COMPRESSION;
import { FormatError } from '../errors.js';
import { formatStanza, parseControl, Stanza } from '../formats/control.js';
import { compareVersions, versionProblem } from '../formats/version.js';
import { writeContentAtomic } from '../fs/atomic.js';
import type { FileDigests } from '../fs/hash.js';
import type { QueueLayout } from '../layout.js';
import { makeDirectories } from './directories.js';
import { feedGroupPath, inArchive } from './paths.js';
import { faultPoint } from '../fault.js';

/** The fields an index adds to a package's control fields, in the order written. */
export const INDEX_FIELDS = ['Filename', 'Size', 'MD5Sum', 'SHA256sum'] as const;

/** Whether a field name (any case) is one the index adds; a package's own field of that name is not indexed. */
export function isIndexField(name: string): boolean {
  return INDEX_FIELDS.some((field) => field.toLowerCase() === name.toLowerCase());
}

/** The index stanza of a package: its control fields in order, then Filename, Size, MD5Sum and SHA256sum. */
export function indexStanza(control: Stanza, filename: string, digests: FileDigests): Stanza {
  const stanza = new Stanza(control.entries().filter(([name]) => !isIndexField(name)));
  for (const [name, value] of indexFields(filename, digests)) stanza.set(name, value);
  return stanza;
}

/**
 * The text of a package's control fields as its index stanza starts
 * (formatStanza of what indexStanza keeps). With indexStanzaText, a package
 * read once is formatted once, however many feeds list it.
 */
export function indexedControlText(control: Stanza): string {
  return formatStanza(new Stanza(control.entries().filter(([name]) => !isIndexField(name))));
}

/**
 * formatStanza(indexStanza(control, filename, digests)), from
 * indexedControlText(control): formatStanza writes field by field, and the
 * index fields are one-line values it would write as they are here (a
 * Filename made of checked names, decimal and hex digits).
 */
export function indexStanzaText(controlText: string, filename: string, digests: FileDigests): string {
  return `${controlText}Filename: ${filename}\nSize: ${digests.size}\nMD5Sum: ${digests.md5}\nSHA256sum: ${digests.sha256}\n`;
}

function indexFields(filename: string, digests: FileDigests): Array<[string, string]> {
  return [
    ['Filename', filename],
    ['Size', String(digests.size)],
    ['MD5Sum', digests.md5],
    ['SHA256sum', digests.sha256],
  ];
}

/** One formatted stanza of a Packages file and the package it lists. */
export interface FormattedStanza {
  readonly package: string;
  /** formatStanza's text. */
  readonly text: string;
}

/** The text of a Packages file: its stanzas sorted by package name (byte order), a blank line between two. */
export function packagesText(stanzas: Iterable<FormattedStanza>): string {
  return [...stanzas]
    .sort((a, b) => byteOrder(a.package, b.package))
    .map((stanza) => stanza.text)
    .join('\n');
}

/** The Packages.gz of a Packages text, as every writer of the archive compresses it (deterministic). */
export function gzipPackages(text: string): Buffer {
  return gzipSync(text, { level: GZIP_LEVEL });
}

/**
 * Writes one feed's Packages.gz, then Packages (the record, last), each
 * atomically, creating the feed directory when needed. Assumes the archive
 * lock is held.
 */
export async function writeFeed(layout: QueueLayout, feed: string, text: string, gz: Buffer = gzipPackages(text)): Promise<void> {
  await makeDirectories(layout.archive, feed);
  const directory = inArchive(layout, feed);
  await writeContentAtomic(join(directory, 'Packages.gz'), gz);
  faultPoint('archived.index-written');
  await writeContentAtomic(join(directory, 'Packages'), text);
  faultPoint('archived.index-written');
}

/** Where a package is indexed now. */
export interface Indexed {
  readonly version: string;
  /** Archive-relative feed directory. */
  readonly feed: string;
}

/** The section feeds of one architecture and platform of a distribution, as read, with pending changes. */
export class FeedGroup {
  /** Section → package name → stanza. */
  readonly #sections = new Map<string, Map<string, Stanza>>();
  /** Section → Packages text as read ('' when absent). */
  readonly #read = new Map<string, string>();
  /** Sections a package was put into: written even when unchanged, to repair a Packages.gz a crash left behind. */
  readonly #touched = new Set<string>();
  /** Each stanza's text, formatted once: a feed is rewritten many times, its stanzas rarely change. */
  readonly #formatted = new WeakMap<Stanza, string>();
  /** The identity of the Packages files as last read or written (see `isCurrent`). */
  #signature = '';

  private constructor(
    private readonly layout: QueueLayout,
    /** Archive-relative directory holding the section feeds. */
    readonly path: string,
  ) {}

  /** Reads every section feed of `architecture`/`platform` in `distribution`. */
  static async load(layout: QueueLayout, distribution: string, architecture: string, platform: string): Promise<FeedGroup> {
    const group = new FeedGroup(layout, feedGroupPath(distribution, architecture, platform));
    const directory = inArchive(layout, group.path);
    const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const section of names.sort()) {
      if (section.startsWith('.')) continue;
      const file = join(directory, section, 'Packages');
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw error;
      });
      if (text === undefined) continue;
      group.#read.set(section, text);
      group.#sections.set(section, readStanzas(text, file));
    }
    group.#signature = await group.#currentSignature();
    return group;
  }

  /** True when no Packages file of the group changed on disk since this group read or wrote them. */
  async isCurrent(): Promise<boolean> {
    return this.#touched.size === 0 && (await this.#currentSignature()) === this.#signature;
  }

  /** Section names with the inode, size and mtime of their Packages files. */
  async #currentSignature(): Promise<string> {
    const directory = inArchive(this.layout, this.path);
    const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const parts: string[] = [];
    for (const section of names.sort()) {
      if (section.startsWith('.')) continue;
      const stats = await stat(join(directory, section, 'Packages'), { bigint: true }).catch(() => undefined);
      if (stats !== undefined) parts.push(`${section}:${stats.ino}:${stats.size}:${stats.mtimeNs}`);
    }
    return parts.join('\n');
  }

  /** The package's indexed version (the highest, should several sections list it), or undefined. */
  indexedVersion(pkg: string): Indexed | undefined {
    let found: Indexed | undefined;
    for (const [section, stanzas] of this.#sections) {
      const version = stanzas.get(pkg)?.get('Version');
      if (version !== undefined && (found === undefined || compareVersions(version, found.version) > 0)) {
        found = { version, feed: `${this.path}/${section}` };
      }
    }
    return found;
  }

  /** Indexes `stanza` in `section`, replacing the package's stanza there and removing it from other sections. */
  put(section: string, stanza: Stanza): void {
    const pkg = stanza.get('Package') as string;
    for (const stanzas of this.#sections.values()) stanzas.delete(pkg);
    let stanzas = this.#sections.get(section);
    if (stanzas === undefined) {
      stanzas = new Map();
      this.#sections.set(section, stanzas);
    }
    stanzas.set(pkg, stanza);
    this.#touched.add(section);
  }

  /** Writes the feeds that changed or were put into; returns their archive-relative directories. */
  async write(): Promise<string[]> {
    const written: string[] = [];
    for (const [section, stanzas] of [...this.#sections].sort(([a], [b]) => byteOrder(a, b))) {
      const text = packagesText([...stanzas].map(([pkg, stanza]) => ({ package: pkg, text: this.#format(stanza) })));
      if (!this.#touched.has(section) && text === this.#read.get(section)) continue;
      const feed = `${this.path}/${section}`;
      await writeFeed(this.layout, feed, text);
      this.#read.set(section, text);
      written.push(feed);
    }
    this.#touched.clear();
    this.#signature = await this.#currentSignature();
    return written;
  }

  /** formatStanza, once per stanza (what formatControl would join). */
  #format(stanza: Stanza): string {
    let text = this.#formatted.get(stanza);
    if (text === undefined) {
      text = formatStanza(stanza);
      this.#formatted.set(stanza, text);
    }
    return text;
  }
}

/** The stanzas of a Packages file by package name; a name listed twice keeps its highest version. */
function readStanzas(text: string, file: string): Map<string, Stanza> {
  const stanzas = new Map<string, Stanza>();
  for (const stanza of parseControl(text, { file })) {
    const pkg = stanza.get('Package');
    const version = stanza.get('Version');
    if (pkg === undefined || version === undefined) {
      throw new FormatError('control.missing-field', file, `a stanza has no ${pkg === undefined ? 'Package' : 'Version'} field`, stanza.lineOf(pkg === undefined ? 'Version' : 'Package'));
    }
    const problem = versionProblem(version);
    if (problem !== undefined) throw new FormatError('control.bad-field', file, `Version of ${pkg}: ${problem}`, stanza.lineOf('Version'));
    const known = stanzas.get(pkg)?.get('Version');
    if (known === undefined || compareVersions(version, known) > 0) stanzas.set(pkg, stanza);
  }
  return stanzas;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
