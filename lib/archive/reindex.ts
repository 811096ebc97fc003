/**
 * `opkfarm archive reindex`: rebuilds every dev feed index from the pool
 * alone, for recovery (a lost or damaged feeds/ tree).
 *
 * Reads   every pool file once (scanOpk: control fields, digests and, for
 *         source packages, the change log naming the distribution; every
 *         check readOpk makes); the feed directories under feeds/dev/.
 * Writes  feeds/dev/<distribution>/<arch>/<plat>/<section>/Packages(.gz),
 *         each atomically (Packages.gz first), holding the archive lock
 *         throughout. feeds/rel/ is never touched: release snapshots are
 *         static.
 *
 * What is listed (feed-selection.ts): source packages in the distribution
 * their change log names, binaries in that of their source package (Source,
 * or Package, and Version); per group and package the highest version, then
 * the highest build; stanzas as inclusion makes them (feeds.ts), so the
 * result is byte for byte what inclusion wrote for the same pool. A section
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
import { readdir, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { FormatError } from '../errors.js';
import { SRC } from '../formats/architecture.js';
import { formatStanza, type Stanza } from '../formats/control.js';
import type { FileDigests } from '../fs/hash.js';
import type { QueueLayout } from '../layout.js';
import { scanOpk } from '../opk/scan.js';
import { pooledControlProblem, sectionOf } from './check-package.js';
import { changelogPath, distributionOf, sourceVersionKey } from './distribution.js';
import { FeedSelection } from './feed-selection.js';
import { gzipPackages, indexStanza, writeFeed } from './feeds.js';
import type { Finding } from './findings.js';
import { withArchiveLock, type ArchiveLockOptions } from './lock.js';
import { feedFilename, inArchive, UPLOAD_CHANNEL } from './paths.js';
import { listPool, type PoolFile } from './pool-listing.js';

export interface ReindexOptions {
  readonly lock?: ArchiveLockOptions;
  /** Called as pool files are read: how many of how many. */
  readonly onProgress?: (done: number, total: number) => void;
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
  /** What was left out of the indexes, and why. */
  readonly problems: Finding[];
}

/** Pool files read between two turns of the event loop (the lock's refresh timer runs there). */
const PACKAGES_PER_TURN = 64;

/** Rebuilds every dev feed from the pool; see the file comment. */
export async function reindexArchive(layout: QueueLayout, options: ReindexOptions = {}): Promise<ReindexReport> {
  return withArchiveLock(layout, (signal) => new Reindex(layout, options, signal).run(), options.lock);
}

/** A pool file read and found to fit its name. */
interface PooledPackage {
  readonly file: PoolFile;
  readonly control: Stanza;
  readonly digests: FileDigests;
  readonly dataFile: Buffer | undefined;
}

class Reindex {
  readonly #problems: Finding[] = [];
  readonly #selection = new FeedSelection();
  /** Source versions (sourceVersionKey) → the distributions their source packages name. */
  readonly #distributions = new Map<string, Set<string>>();
  #done = 0;
  #total = 0;

  constructor(
    private readonly layout: QueueLayout,
    private readonly options: ReindexOptions,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<ReindexReport> {
    const listing = await listPool(this.layout);
    this.#problems.push(...listing.strays);
    // Source packages first: they say which distribution each binary belongs to.
    const sources = listing.files.filter((file) => file.name.architecture === SRC);
    const binaries = listing.files.filter((file) => file.name.architecture !== SRC);
    this.#total = listing.files.length;
    this.options.onProgress?.(0, this.#total);
    for (const file of sources) await this.#step(() => this.#readSource(file));
    for (const file of binaries) await this.#step(() => this.#readBinary(file));
    await this.#keepExistingSections();

    this.signal.throwIfAborted();
    const written: string[] = [];
    let unchanged = 0;
    let indexed = 0;
    for (const [feed, { text, packages }] of this.#selection.feeds()) {
      indexed += packages;
      const gz = gzipPackages(text);
      if (await this.#holds(feed, text, gz)) {
        unchanged += 1;
        continue;
      }
      this.signal.throwIfAborted();
      await writeFeed(this.layout, feed, text, gz);
      written.push(feed);
    }
    return { packages: this.#total, indexed, written, unchanged, problems: this.#problems };
  }

  /** Runs one file's work, reports progress, and lets the event loop turn now and then. */
  async #step(work: () => Promise<void>): Promise<void> {
    await work();
    this.#done += 1;
    this.options.onProgress?.(this.#done, this.#total);
    if (this.#done % PACKAGES_PER_TURN === 0) {
      await nextTurn();
      this.signal.throwIfAborted();
    }
  }

  async #readSource(file: PoolFile): Promise<void> {
    const source = file.source;
    const read = await this.#read(file, changelogPath(source, file.name.version));
    if (read === undefined) return;
    const version = read.control.get('Version') as string;
    let distribution: string;
    try {
      distribution = distributionOf(read.dataFile, this.#absolute(file), source, version);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      this.#problem(file, `${this.#relativeMessage(error, file)}; not indexed, nor are its binaries`);
      return;
    }
    const key = sourceVersionKey(source, version);
    const known = this.#distributions.get(key) ?? new Set<string>();
    known.add(distribution);
    this.#distributions.set(key, known);
    this.#offer(read, distribution);
  }

  async #readBinary(file: PoolFile): Promise<void> {
    const read = await this.#read(file);
    if (read === undefined) return;
    const version = read.control.get('Version') as string;
    const distributions = this.#distributions.get(sourceVersionKey(file.source, version));
    if (distributions === undefined) {
      this.#problem(file, `an orphan: no source package src-${file.source} ${version} with a change log in the pool; not indexed`);
      return;
    }
    for (const distribution of distributions) this.#offer(read, distribution);
  }

  /** Reads and checks one pool file; undefined (and a problem noted) when it cannot be indexed. */
  async #read(file: PoolFile, dataFile?: string): Promise<PooledPackage | undefined> {
    let scanned;
    try {
      scanned = await scanOpk(this.#absolute(file), dataFile === undefined ? {} : { dataFile });
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      this.#problem(file, `${this.#relativeMessage(error, file)}; not indexed`);
      return undefined;
    }
    const problem = pooledControlProblem(scanned.control, file.name, file.source);
    if (problem !== undefined) {
      this.#problem(file, `${problem}; not indexed`);
      return undefined;
    }
    return { file, ...scanned };
  }

  #offer(read: PooledPackage, distribution: string): void {
    const { file, control, digests } = read;
    try {
      this.#selection.offer({
        distribution,
        architecture: control.get('Architecture') as string,
        platform: control.get('Platform') as string,
        section: sectionOf(control),
        package: control.get('Package') as string,
        version: control.get('Version') as string,
        build: file.name.build,
        pool: file.path,
        stanza: (feed) => formatStanza(indexStanza(control, feedFilename(feed, file.path), digests)),
      });
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      this.#problem(file, `the control file cannot be written into an index: ${error.detail}; not indexed`);
    }
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
  async #holds(feed: string, text: string, gz: Buffer): Promise<boolean> {
    const read = (name: string) =>
      readFile(inArchive(this.layout, posix.join(feed, name))).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw error;
      });
    const [packages, packagesGz] = await Promise.all([read('Packages'), read('Packages.gz')]);
    return packages !== undefined && packagesGz !== undefined && packages.equals(Buffer.from(text)) && packagesGz.equals(gz);
  }

  #absolute(file: PoolFile): string {
    return inArchive(this.layout, file.path);
  }

  /** A FormatError's message about a pool file, naming the file archive-relative and without its leading name. */
  #relativeMessage(error: FormatError, file: PoolFile): string {
    const message = error.message.split(this.#absolute(file)).join(file.path);
    return message.startsWith(`${file.path}: `) ? message.slice(file.path.length + 2) : message;
  }

  #problem(file: PoolFile, problem: string): void {
    this.#problems.push({ file: file.path, problem });
  }
}
