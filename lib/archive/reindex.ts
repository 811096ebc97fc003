/**
 * `opkfarm archive reindex`: rebuilds every dev feed index from the pool
 * alone, for recovery (a lost or damaged feeds/ tree).
 *
 * Reads   every pool file once (pool-stanzas.ts: its control fields, digests
 *         and, for source packages, the distribution their change log names;
 *         the checks of readOpk but for small binaries' data archives,
 *         checked at inclusion), a source directory at a time, on worker
 *         threads when there are cores to spare (pool-reader.ts); the feed
 *         directories under feeds/dev/.
 * Writes  feeds/dev/<distribution>/<arch>/<plat>/<section>/Packages(.gz),
 *         each atomically (Packages.gz first), holding the archive lock
 *         throughout. feeds/rel/ is never touched: release snapshots are
 *         static.
 *
 * What is listed (feed-selection.ts): source packages in the distribution
 * their change log names, binaries in that of their source package (Source,
 * or Package, and Version), unless a newer version of the source in that
 * distribution no longer builds them (include.ts); per group and package
 * the highest version, then the highest build; stanzas and Packages.gz as
 * inclusion makes them (feeds.ts, packages-gz.ts), so the result is byte
 * for byte what inclusion wrote for the same pool. A section
 * directory with nothing left gets an empty Packages, as inclusion leaves it.
 *
 * Not listed, and reported: binaries whose source package is not in the
 * pool (orphans), packages that fail scanOpk's checks or do not fit their
 * pool name (check-package.ts pooledControlProblem), names the pool does not
 * make. A package that cannot be read for want of the environment (EACCES,
 * a missing decompressor) stops the reindex before anything is written: an
 * index must not lose a package to a passing failure.
 *
 * If killed, each feed is either the old or the new one, and running again
 * finishes the job. Feeds whose two files already hold the new content are
 * left alone.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { QueueLayout } from '../layout.js';
import { FeedSelection } from './feed-selection.js';
import { writeFeed } from './feeds.js';
import type { Finding } from './findings.js';
import { withArchiveLock, type ArchiveLockOptions } from './lock.js';
import { inArchive, UPLOAD_CHANNEL } from './paths.js';
import { listPoolDirectories } from './pool-listing.js';
import { readPoolDirectories } from './pool-reader.js';
import type { PoolRecord } from './pool-stanzas.js';

/** How much of a feed's Packages is compared at a time. */
const COMPARE_PIECE = 256 * 1024;

export interface ReindexOptions {
  readonly lock?: ArchiveLockOptions;
  /** Called as pool files are read: how many of how many. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Threads reading pool files (pool-reader.ts); 0 reads them in this thread. */
  readonly threads?: number;
}

export interface ReindexReport {
  /** Pool files read. */
  readonly packages: number;
  /** Stanzas in the dev feeds now. */
  readonly indexed: number;
  /** Archive-relative feed directories written. */
  readonly written: string[];
  /** Feeds that already held what the pool makes. */
  readonly unchanged: number;
  /** What was left out of the indexes, and why, sorted by file. */
  readonly problems: Finding[];
}

/** Rebuilds every dev feed from the pool; see the file comment. */
export async function reindexArchive(layout: QueueLayout, options: ReindexOptions = {}): Promise<ReindexReport> {
  return withArchiveLock(layout, (signal) => new Reindex(layout, options, signal).run(), options.lock);
}

class Reindex {
  readonly #problems: Finding[] = [];
  readonly #selection = new FeedSelection();

  constructor(
    private readonly layout: QueueLayout,
    private readonly options: ReindexOptions,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<ReindexReport> {
    const { directories, strays } = await listPoolDirectories(this.layout);
    this.#problems.push(...strays.map((stray) => ({ file: stray.file, problem: `${stray.problem}; not indexed` })));
    const total = directories.reduce((sum, directory) => sum + directory.names.length, 0);
    let done = 0;
    this.options.onProgress?.(0, total);
    const onRecord = (record: PoolRecord): void => {
      if ('problem' in record) this.#problems.push({ file: record.path, problem: record.problem });
      else {
        const { listable } = record;
        for (const { distribution, text } of listable.stanzas) this.#selection.offer({ ...listable, distribution, pool: record.path, text });
        // Inclusion unlisted it and left its section feed, perhaps empty.
        for (const distribution of listable.unlisted) this.#selection.keepSection(distribution, listable.architecture, listable.platform, listable.section);
      }
      done += 1;
      this.options.onProgress?.(done, total);
    };
    const { threads } = this.options;
    await readPoolDirectories(this.layout.archive, directories, onRecord, { signal: this.signal, ...(threads === undefined ? {} : { threads }) });
    await this.#keepExistingSections();

    this.signal.throwIfAborted();
    const written: string[] = [];
    let unchanged = 0;
    let indexed = 0;
    for (const [feed, { packages, gz, stanzas }] of this.#selection.feeds()) {
      indexed += stanzas;
      if (await this.#holds(feed, packages, gz)) {
        unchanged += 1;
        continue;
      }
      this.signal.throwIfAborted();
      await writeFeed(this.layout, feed, packages, gz);
      written.push(feed);
    }
    this.#problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    return { packages: total, indexed, written, unchanged, problems: this.#problems };
  }

  /** Section directories that exist under feeds/dev/<distribution>/<arch>/<plat>/ keep a feed. */
  async #keepExistingSections(): Promise<void> {
    const channel = posix.join('feeds', UPLOAD_CHANNEL);
    for (const distribution of await this.#directories(channel)) {
      for (const architecture of await this.#directories(posix.join(channel, distribution))) {
        for (const platform of await this.#directories(posix.join(channel, distribution, architecture))) {
          for (const section of await this.#directories(posix.join(channel, distribution, architecture, platform))) {
            this.#selection.keepSection(distribution, architecture, platform, section);
          }
        }
      }
    }
  }

  async #directories(relative: string): Promise<string[]> {
    const entries = await readdir(inArchive(this.layout, relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    return entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name);
  }

  /** Whether the feed's Packages and Packages.gz already hold these bytes. */
  async #holds(feed: string, packages: Buffer, gz: Buffer): Promise<boolean> {
    const read = (name: string) =>
      readFile(inArchive(this.layout, posix.join(feed, name))).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw error;
      });
    const packagesGz = await read('Packages.gz');
    if (packagesGz === undefined || !packagesGz.equals(gz)) return false;
    return fileHolds(inArchive(this.layout, posix.join(feed, 'Packages')), packages);
  }
}

/** Whether a file holds exactly `bytes`, read a piece at a time (a feed's Packages is megabytes). */
async function fileHolds(path: string, bytes: Buffer): Promise<boolean> {
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (handle === undefined) return false;
  try {
    if ((await handle.stat()).size !== bytes.length) return false;
    const piece = Buffer.allocUnsafe(Math.min(COMPARE_PIECE, bytes.length));
    for (let at = 0; at < bytes.length; ) {
      const { bytesRead } = await handle.read(piece, 0, Math.min(piece.length, bytes.length - at), at);
      if (bytesRead === 0 || !piece.subarray(0, bytesRead).equals(bytes.subarray(at, at + bytesRead))) return false;
      at += bytesRead;
    }
    return true;
  } finally {
    await handle.close();
  }
}
