/**
 * Feed indexes: `archive/feeds/dev/<distribution>/<arch>/<plat>/<section>/Packages`
 * and `Packages.gz`, one feed per architecture (`all` and `src` included),
 * platform and section (FORMATS.md).
 *
 * The Packages files are the archive's record of the indexed control
 * stanzas: an inclusion reads those of the architecture/platform pairs it
 * touches (feed-section.ts: cut into stanzas, only Package and Version
 * parsed), never the other packages of the pool, and writes back only the
 * feeds that change. Each stanza is the package's control fields in their
 * order, then Filename (relative to the feed directory), Size, MD5Sum and
 * SHA256sum, opkg's spellings; stanzas are sorted by Package. Packages.gz is
 * a gzip member per chunk of stanzas (packages-gz.ts), a function of the
 * Packages text, so reindex writes the same bytes.
 *
 * One stanza per package name and architecture/platform pair: a package is
 * in one section of a suite, so a new version whose Section changed leaves
 * the old section's feed. Callers decide with `indexed` whether a package
 * replaces the indexed one (newer or same version) or is superseded.
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
import { formatStanza, Stanza } from '../formats/control.js';
import { compareVersions } from '../formats/version.js';
import { writeContentAtomic } from '../fs/atomic.js';
import type { FileDigests } from '../fs/hash.js';
import type { QueueLayout } from '../layout.js';
import { makeDirectories } from './directories.js';
import { SectionFeed, type IndexedStanza } from './feed-section.js';
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

/**
 * Writes one feed's Packages.gz, then Packages (the record, last), each
 * atomically, creating the feed directory when needed. Assumes the archive
 * lock is held.
 */
export async function writeFeed(layout: QueueLayout, feed: string, packages: string | Buffer, gz: Buffer): Promise<void> {
  await makeDirectories(layout.archive, feed);
  const directory = inArchive(layout, feed);
  await writeContentAtomic(join(directory, 'Packages.gz'), gz);
  faultPoint('archived.index-written');
  await writeContentAtomic(join(directory, 'Packages'), packages);
  faultPoint('archived.index-written');
}

/** Where a package is indexed now. */
export interface Indexed extends IndexedStanza {
  /** Archive-relative feed directory. */
  readonly feed: string;
}

/** The section feeds of one architecture and platform of a distribution, as read, with pending changes. */
export class FeedGroup {
  readonly #sections = new Map<string, SectionFeed>();
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
    for (const section of await sectionNames(directory)) {
      const file = join(directory, section, 'Packages');
      const packages = await readIfFile(file);
      if (packages === undefined) continue;
      group.#sections.set(section, SectionFeed.read(file, packages, await readIfFile(`${file}.gz`)));
    }
    group.#signature = await group.#currentSignature();
    return group;
  }

  /** True when no Packages file of the group changed on disk since this group read or wrote them, and nothing is pending. */
  async isCurrent(): Promise<boolean> {
    return ![...this.#sections.values()].some((section) => section.changed) && (await this.#currentSignature()) === this.#signature;
  }

  /** Section names with the inode, size and mtime of their Packages files. */
  async #currentSignature(): Promise<string> {
    const directory = inArchive(this.layout, this.path);
    const parts: string[] = [];
    for (const section of await sectionNames(directory)) {
      const stats = await stat(join(directory, section, 'Packages'), { bigint: true }).catch(() => undefined);
      if (stats !== undefined) parts.push(`${section}:${stats.ino}:${stats.size}:${stats.mtimeNs}`);
    }
    return parts.join('\n');
  }

  /** The package's indexed stanza (the highest version, should several sections list it), or undefined. */
  indexed(pkg: string): Indexed | undefined {
    let found: Indexed | undefined;
    for (const [section, feed] of this.#sections) {
      const stanza = feed.get(pkg);
      if (stanza !== undefined && (found === undefined || compareVersions(stanza.version, found.version) > 0)) {
        found = { ...stanza, feed: `${this.path}/${section}` };
      }
    }
    return found;
  }

  /** Indexes `stanza` in `section`, replacing the package's stanza there and removing it from other sections. */
  put(section: string, stanza: IndexedStanza): void {
    this.remove(stanza.package);
    let feed = this.#sections.get(section);
    if (feed === undefined) {
      feed = SectionFeed.empty(join(inArchive(this.layout, this.path), section, 'Packages'));
      this.#sections.set(section, feed);
    }
    feed.set(stanza);
    // Written even when the same stanza was there: it repairs a Packages.gz a crash left behind.
    feed.changed = true;
  }

  /** Unlists a package from every section; the sections it leaves keep their (possibly empty) feed. */
  remove(pkg: string): void {
    for (const feed of this.#sections.values()) feed.delete(pkg);
  }

  /**
   * Writes the feeds that changed or were put into; returns their
   * archive-relative directories. Feeds are written side by side: each in
   * its own order, their fsyncs overlapping (most of an inclusion's time).
   */
  async write(): Promise<string[]> {
    const changed = [...this.#sections].filter(([, feed]) => feed.changed).sort(([a], [b]) => byteOrder(a, b));
    const written = await Promise.all(
      changed.map(async ([section, feed]) => {
        const path = `${this.path}/${section}`;
        const { text, gz } = feed.files();
        await writeFeed(this.layout, path, text, gz);
        feed.changed = false;
        return path;
      }),
    );
    this.#signature = await this.#currentSignature();
    return written;
  }
}

/** The section directories of a group directory (none when it does not exist). */
async function sectionNames(directory: string): Promise<string[]> {
  const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return names.filter((name) => !name.startsWith('.')).sort();
}

/** A file's content, or undefined when it (or its directory) does not exist. */
async function readIfFile(file: string): Promise<Buffer | undefined> {
  return readFile(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
