/**
 * PIPELINE.md step 4: include a complete archive-queue entry into the archive.
 *
 * Reads   archive-queue/<key>/: the build results and logs, the binaries of
 *         successful builds, <key>.changes and <key>.opk (the source package,
 *         whose presence makes the entry complete); the feeds' Packages files.
 * Writes, in this order, holding the archive lock (lock.ts) throughout:
 *   1. nothing: every binary a successful build lists, and the source
 *      package, is read fully (readOpk refuses unsafe data) and its control
 *      checked against the upload and build (check-package.ts); a package
 *      that fails is refused, with a one-line reason, and the rest goes on;
 *   2. pool/<hash>/<source>/<file>.opk: one hard link per package (pool.ts);
 *   3. feeds/dev/<distribution>/<arch>/<plat>/<section>/Packages(.gz) of
 *      the packages just pooled, after the pool files they list (I4; feeds.ts);
 *   4. logs/<source>/<key>_<arch>_<plat>.log and .result, and <key>.changes
 *      (logs.ts);
 *   5. the "installed" mail, when a mailer is given (a failure is reported,
 *      never fatal);
 *   6. the entry goes, last: renamed whole into tmp/.tmp-included-<key>, then
 *      deleted. Until that rename the entry is intact under its name, source
 *      package included, so it is still recognisably complete.
 * If killed, running again redoes the same work and produces the same pool
 * and feeds (I5): links that exist with the same content are accepted, feeds
 * are recomputed from Packages (a package indexed already is replaced by
 * itself), stored logs are found in place, and a tmp/.tmp-included-<key>
 * left behind is deleted by the next inclusion. The mail may then be sent
 * twice; it is never lost.
 *
 * Versions are decided per source within the upload's distribution, as
 * its users see it: the feeds of one distribution list one version of a
 * source, with the binaries that version builds.
 * - An upload older than the version of its source indexed in the
 *   distribution (the `src` feed's `src-<source>`) is superseded whole:
 *   reported, and none of its packages pooled or indexed, even a binary the
 *   newer version does not build. A package older than its own indexed
 *   version (one that moved to this source from another) is superseded too.
 * - A same version replaces the indexed stanzas: with the same bytes it is
 *   the same pool file; with other bytes (a rebuild) it is pooled as the
 *   next build (`..._b2.opk`, pool.ts), the index lists that newest build,
 *   and the earlier builds stay in the pool until collected.
 * - A newer version replaces its binaries' stanzas, and the binaries of
 *   older versions of the source that it no longer builds (not in its
 *   source package's Binary field) leave the distribution's feeds: they are
 *   reported as dropped and stay in the pool until collected. Like dak's
 *   removal of cruft, this keeps a feed from offering a package whose
 *   source is gone, built against the rest of an older version (its
 *   `Depends: foo (= 1.0)` uninstallable beside foo 2.0). A binary the new
 *   version still builds but whose build failed keeps its older stanza: the
 *   package stays installable until the build succeeds. A source package
 *   without a Binary field drops nothing.
 * - A version is uploaded into one distribution: an upload of a version
 *   whose source package is in the pool from another distribution is
 *   refused whole. Its packages would share the pool names of the other
 *   upload's, and the pool, from which reindex rebuilds the feeds, could
 *   not tell which build belongs to which distribution. buildq accept
 *   refuses such an upload before it is built; this catches the rest (two
 *   uploads accepted before either was included).
 * reindex.ts (pool-stanzas.ts, feed-selection.ts) makes the same choices
 * from the pool alone, so it writes the feeds inclusion wrote.
 */
import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describeError, FormatError } from '../errors.js';
import { SRC } from '../formats/architecture.js';
import { parseChanges, uploadFileNameProblem, type Changes } from '../formats/changes.js';
import { listValue, type Stanza } from '../formats/control.js';
import { sourcePackageName } from '../formats/names.js';
import { compareVersions, versionForFileName } from '../formats/version.js';
import { DirectorySyncs, syncDirectory, TEMP_PREFIX } from '../fs/atomic.js';
import { digestFile, type FileDigests } from '../fs/hash.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import type { Mailer } from '../mail/mailer.js';
import { installedMessage } from '../mail/messages.js';
import { readOpk } from '../opk/read.js';
import { buildName, parseBuildName, parseBuildResult, type Build } from './build-result.js';
import { binaryControlProblem, sectionOf, sourceControlProblem } from './check-package.js';
import { readEntryFiles, type EntryFiles } from './entry.js';
import { InclusionError } from './errors.js';
import { fieldValue } from './feed-section.js';
import { FeedCache } from './feed-cache.js';
import { indexedControlText, indexStanzaText, type FeedGroup } from './feeds.js';
import { withArchiveLock, type ArchiveLockOptions } from './lock.js';
import { storeBuildRecords, storeChangesRecord, type BuildRecord } from './logs.js';
import { feedFilename, feedPath, poolFileName, poolPath, uploadSuite } from './paths.js';
import { placeInPool } from './pool.js';
import { binaryFeedsOf, otherDistributionReason, pooledForOtherDistribution, sourcePoolFiles, type SourcePoolFile } from './source-pool.js';
import { faultPoint } from '../fault.js';

/** A package now in the pool and its feed. */
export interface InstalledPackage {
  /** Archive-relative pool path, e.g. `pool/h/hello/hello_1.0-1_all_all.opk` (`..._all_b2.opk` for build 2). */
  readonly file: string;
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
  readonly platform: string;
  readonly size: number;
  /** The build number: 1, or higher for a rebuild of a version already in the pool. */
  readonly build: number;
}

/** A file of the entry that reached neither pool nor index. */
export interface RefusedFile {
  /** The file's name in the archive-queue entry. */
  readonly file: string;
  /** One line: the file name and the problem. */
  readonly reason: string;
}

/** A package older than the version indexed (its source's, or its own): left out. */
export interface SupersededPackage {
  /** The file's name in the archive-queue entry. */
  readonly file: string;
  readonly package: string;
  readonly version: string;
  readonly indexedVersion: string;
  /** Archive-relative feed directory that indexes the newer version. */
  readonly feed: string;
}

/** A binary of an older version of the source that the included version no longer builds: unlisted. */
export interface DroppedPackage {
  readonly package: string;
  readonly version: string;
  /** Archive-relative feed directory it was listed in. */
  readonly feed: string;
}

export interface FailedBuild extends Build {
  /** The result's Error field, or why the result could not be read. */
  readonly error?: string;
}

/** What an inclusion did. Lists are sorted (by file, or by build). */
export interface InclusionReport {
  readonly key: string;
  readonly source: string;
  /** The upload's version, epoch included. */
  readonly version: string;
  readonly distribution: string;
  /** `dev/<distribution>`. */
  readonly suite: string;
  readonly installed: InstalledPackage[];
  readonly refused: RefusedFile[];
  readonly superseded: SupersededPackage[];
  /** Sorted by feed, then package. */
  readonly dropped: DroppedPackage[];
  readonly failedBuilds: FailedBuild[];
  /** Archive-relative feed directories whose Packages files were written. */
  readonly feeds: string[];
  /** The installed notice, when a mailer was given: where it went, or why it was not sent. */
  readonly mail?: { readonly id: string | undefined; readonly failure?: string };
}

/** The points an inclusion passes, in order. */
export type InclusionStep = 'validated' | 'pooled' | 'indexed' | 'logs-stored' | 'mailed' | 'removed';

export interface InclusionOptions {
  /** Sends the installed notice. */
  readonly mailer?: Mailer;
  readonly lock?: ArchiveLockOptions;
  /** Called after each step, holding the lock (progress logging); a throw stops the inclusion there, as a kill would. */
  readonly onStep?: (step: InclusionStep) => void | Promise<void>;
  /** Feed indexes kept from earlier batches (a daemon's); each is checked against the disk before reuse. */
  readonly feedCache?: FeedCache;
  /** Unpacked-Size-Limit: a package whose data inflates past it is refused (a decompression bomb). */
  readonly unpackedLimitBytes?: number;
}

export { FeedCache } from './feed-cache.js';

/** Prefix, in tmp/, of an included entry being deleted. */
const INCLUDED_PREFIX = '.tmp-included-';

/** A package read, checked and ready to pool and index. */
interface Candidate extends Build {
  /** Name in the entry. */
  readonly name: string;
  readonly path: string;
  readonly package: string;
  readonly version: string;
  readonly section: string;
  /** Archive-relative pool path of its first build. */
  readonly pool: string;
  /** Archive-relative feed directory. */
  readonly feed: string;
  /** The control fields as the index stanza starts (feeds.ts indexedControlText). */
  readonly controlText: string;
  readonly digests: FileDigests;
  /** The index stanza naming the first build's pool file. */
  readonly stanza: string;
  /** A source package's Binary field: the binaries its version builds (undefined without one, and for binaries). */
  readonly builds: readonly string[] | undefined;
}

/** A candidate linked into the pool, under the name of its build. */
interface Placed extends Candidate {
  readonly buildNumber: number;
}

/** What became of one entry of a batch: its report, or why it could not be included (the entry is left as it was). */
export type EntryOutcome =
  | { readonly key: string; readonly report: InclusionReport }
  | { readonly key: string; readonly error: InclusionError };

/** Includes the complete archive-queue entry `key`; see the file comment for the order and guarantees. */
export async function includeEntry(layout: QueueLayout, key: string, options: InclusionOptions = {}): Promise<InclusionReport> {
  const [outcome] = await includeEntries(layout, [key], options);
  if (outcome === undefined) throw new Error('includeEntries returned no outcome');
  if ('error' in outcome) throw outcome.error;
  return outcome.report;
}

/**
 * Includes several complete entries, oldest first, as one batch under one
 * hold of the lock: each step is taken for all of them before the next, so
 * every touched index is rewritten once per batch and each directory fsynced
 * once per step. An entry that cannot be included (InclusionError) is left
 * as it is and reported; the others go on. Within a batch an entry sees the
 * packages of the entries before it as indexed (a later upload of an older
 * version is superseded by an earlier, newer one).
 */
export async function includeEntries(layout: QueueLayout, keys: readonly string[], options: InclusionOptions = {}): Promise<EntryOutcome[]> {
  return withArchiveLock(layout, (signal) => new Batch(layout, options, signal).run(keys), options.lock);
}

/** Deletes entries a killed inclusion left in tmp/ after it had removed them from the archive queue. */
export async function removeIncludedEntries(layout: QueueLayout): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(layout.tmp)) {
    if (!name.startsWith(INCLUDED_PREFIX)) continue;
    await rm(join(layout.tmp, name), { recursive: true, force: true });
    removed.push(`tmp/${name}`);
  }
  return removed;
}

/**
 * What a killed inclusion leaves and nothing else would remove (I5), taken
 * away when archived starts, holding the archive lock so that no writer is
 * at work: included entries not yet deleted from tmp/ (the next batch would
 * delete them, but there may be none), and temporaries of index writes under
 * feeds/ (a Packages file whose rename never came). Returns what it removed,
 * root-relative.
 */
export async function removeInterruptedInclusions(layout: QueueLayout, lock?: ArchiveLockOptions): Promise<string[]> {
  return withArchiveLock(
    layout,
    async () => {
      const removed = await removeIncludedEntries(layout);
      const feeds = join(layout.archive, 'feeds');
      const names = await readdir(feeds, { recursive: true }).catch(() => [] as string[]);
      for (const relative of names.filter((name) => basename(name).startsWith(TEMP_PREFIX)).sort()) {
        await rm(join(feeds, relative), { recursive: true, force: true });
        removed.push(`archive/feeds/${relative}`);
      }
      return removed;
    },
    lock,
  );
}

/** One run of step 4 over a batch of entries. */
class Batch {
  readonly #feeds: FeedCache;
  readonly #syncs = new DirectorySyncs();

  constructor(
    private readonly layout: QueueLayout,
    private readonly options: InclusionOptions,
    private readonly signal: AbortSignal,
  ) {
    this.#feeds = options.feedCache ?? new FeedCache(layout);
  }

  async run(keys: readonly string[]): Promise<EntryOutcome[]> {
    this.#feeds.beginBatch();
    try {
      return await this.#run(keys);
    } catch (error) {
      // Groups may hold stanzas put but never written: forget them all.
      this.#feeds.clear();
      throw error;
    }
  }

  async #run(keys: readonly string[]): Promise<EntryOutcome[]> {
    await removeIncludedEntries(this.layout);
    const failed = new Map<string, InclusionError>();
    const inclusions: Inclusion[] = [];

    // 1. Validate.
    for (const key of keys) {
      try {
        inclusions.push(await Inclusion.validate(this.layout, key, this.options.unpackedLimitBytes));
      } catch (error) {
        if (!(error instanceof InclusionError)) throw error;
        failed.set(key, error);
      }
    }
    await this.#step('validated');

    // 2. Pool, oldest entry first, leaving out what is superseded.
    this.signal.throwIfAborted();
    for (const inclusion of inclusions) await inclusion.pool(this.#feeds, this.#syncs);
    await this.#syncs.flush();
    await this.#step('pooled');

    // 3. Index, after the pool files exist.
    this.signal.throwIfAborted();
    const written = await this.#feeds.write();
    await this.#step('indexed');

    // 4. Logs and results.
    for (const inclusion of inclusions) await inclusion.storeLogs(this.#syncs);
    await this.#syncs.flush();
    await this.#step('logs-stored');

    // 5. Mail.
    const reports = new Map<string, InclusionReport>();
    for (const inclusion of inclusions) {
      const report = inclusion.report(written);
      const mail = this.options.mailer === undefined ? undefined : await sendInstalled(this.options.mailer, report, inclusion.changes);
      faultPoint('archived.mailed');
      reports.set(inclusion.key, mail === undefined ? report : { ...report, mail });
    }
    await this.#step('mailed');

    // 6. The entries, last: out of the archive queue in one rename each, then deleted.
    this.signal.throwIfAborted();
    const doomed: string[] = [];
    for (const inclusion of inclusions) {
      doomed.push(await inclusion.moveOut());
      faultPoint('archived.entry-moved-out');
    }
    await syncDirectory(this.layout.archiveQueue);
    await syncDirectory(this.layout.tmp);
    for (const directory of doomed) {
      await rm(directory, { recursive: true, force: true });
      faultPoint('archived.entry-deleted');
    }
    await this.#step('removed');

    return keys.map((key): EntryOutcome => {
      const error = failed.get(key);
      if (error !== undefined) return { key, error };
      return { key, report: reports.get(key) as InclusionReport };
    });
  }

  async #step(step: InclusionStep): Promise<void> {
    await this.options.onStep?.(step);
  }
}

/** Step 4 for one entry of a batch. */
class Inclusion {
  readonly #refused: RefusedFile[] = [];
  readonly #failedBuilds: FailedBuild[] = [];
  readonly #candidates: Candidate[] = [];
  readonly #superseded: SupersededPackage[] = [];
  readonly #dropped: DroppedPackage[] = [];
  readonly #installed: Placed[] = [];
  readonly #logs: BuildRecord[] = [];
  /** Feed groups this entry read or changed: their written feeds are in its report. */
  readonly #groups = new Set<FeedGroup>();

  private constructor(
    private readonly layout: QueueLayout,
    readonly key: string,
    private readonly source: string,
    /** The version as the key has it: without epoch. */
    private readonly keyVersion: string,
    private readonly entry: EntryFiles,
    private readonly maxDataSize: number | undefined,
  ) {}

  /** The entry's .changes, read and checked by `validate`. */
  changes!: Changes;

  /** Reads the entry and checks every package in it (step 1); refused packages are noted, not fatal. */
  static async validate(layout: QueueLayout, key: string, maxDataSize: number | undefined): Promise<Inclusion> {
    const parsed = parseUploadKey(key);
    if (!parsed) {
      throw new InclusionError('archive.bad-key', key, 'not an upload key (<10-digit sequence>_<source>_<version>)');
    }
    const entry = await readEntryFiles(layout, key, parsed.source);
    const inclusion = new Inclusion(layout, key, parsed.source, parsed.version, entry, maxDataSize);
    inclusion.changes = await inclusion.#readChanges(entry);
    await inclusion.#examineAll();
    return inclusion;
  }

  async #examineAll(): Promise<void> {
    const { entry, changes } = this;
    const unlisted = new Set(entry.names);
    unlisted.delete(entry.sourcePackage);
    unlisted.delete(entry.changes);
    for (const [build, path] of [...entry.results].sort(([a], [b]) => (a < b ? -1 : 1))) {
      unlisted.delete(`${build}.result`);
      await this.#examineBuild(entry, changes, build, path, unlisted);
    }
    for (const [build, path] of entry.logs) {
      if (parseBuildName(build) === undefined) continue;
      unlisted.delete(`${build}.log`);
      this.#logs.push({ build, path, extension: '.log' });
    }
    for (const name of unlisted) {
      this.#refuse(name, name.endsWith('.opk') ? 'not listed by any successful build result' : 'not a file an archive-queue entry holds');
    }
    const sourceCandidate = await this.#examine(entry, entry.sourcePackage, { architecture: SRC, platform: 'all' }, changes, (control) =>
      sourceControlProblem(control, { source: this.source, version: changes.version }),
    );
    if (sourceCandidate) this.#candidates.push(sourceCandidate);
  }

  /** Step 2 and the in-memory half of step 3: pools what is not superseded and puts it into its feed group. */
  async pool(feeds: FeedCache, syncs: DirectorySyncs): Promise<void> {
    const poolFiles = await sourcePoolFiles(this.layout, this.source);
    const elsewhere = await pooledForOtherDistribution(this.layout, this.source, this.changes.version, this.changes.distribution, poolFiles);
    if (elsewhere !== undefined) {
      const problem = otherDistributionReason(this.source, this.changes.version, this.changes.distribution, elsewhere);
      for (const candidate of this.#candidates) this.#refuse(candidate.name, problem);
      return;
    }
    const sourceIndexed = (await this.#group(feeds, { architecture: SRC, platform: 'all' })).indexed(sourcePackageName(this.source));
    const newerSource = sourceIndexed !== undefined && compareVersions(this.changes.version, sourceIndexed.version) < 0 ? sourceIndexed : undefined;
    const toPlace: Candidate[] = [];
    const pooledBy = new Map<string, string>();
    for (const candidate of this.#candidates) {
      const other = pooledBy.get(candidate.pool);
      if (other !== undefined) {
        this.#refuse(candidate.name, `${other} of this upload has the same pool file ${candidate.pool}`);
        continue;
      }
      pooledBy.set(candidate.pool, candidate.name);
      const own = (await this.#group(feeds, candidate)).indexed(candidate.package);
      const indexed = own !== undefined && compareVersions(candidate.version, own.version) < 0 ? own : newerSource;
      if (indexed !== undefined) {
        this.#superseded.push({
          file: candidate.name,
          package: candidate.package,
          version: candidate.version,
          indexedVersion: indexed.version,
          feed: indexed.feed,
        });
      } else {
        toPlace.push(candidate);
      }
    }
    for (const candidate of toPlace) {
      const poolOfBuild = (build: number) =>
        poolPath(this.source, poolFileName(candidate.package, candidate.version, candidate.architecture, candidate.platform, build));
      const placement = await placeInPool(this.layout, candidate.path, poolOfBuild, candidate.digests, syncs);
      if ('conflict' in placement) {
        this.#refuse(candidate.name, placement.conflict);
        continue;
      }
      const stanza =
        placement.pool === candidate.pool ? candidate.stanza : indexStanzaText(candidate.controlText, feedFilename(candidate.feed, placement.pool), candidate.digests);
      this.#installed.push({ ...candidate, pool: placement.pool, stanza, buildNumber: placement.build });
    }
    // Written by the batch once every entry is pooled and the pool fsynced.
    for (const candidate of this.#installed) {
      (await this.#group(feeds, candidate)).put(candidate.section, { package: candidate.package, version: candidate.version, text: candidate.stanza });
    }
    const source = this.#installed.find((candidate) => candidate.architecture === SRC);
    if (source?.builds !== undefined) await this.#dropNoLongerBuilt(feeds, source.builds, poolFiles);
  }

  /** Unlists the binaries of older versions of the source that are not in `builds` (see the file comment). */
  async #dropNoLongerBuilt(feeds: FeedCache, builds: readonly string[], poolFiles: readonly SourcePoolFile[]): Promise<void> {
    const built = new Set(builds);
    for (const binary of binaryFeedsOf(poolFiles)) {
      if (built.has(binary.package)) continue;
      const group = await this.#group(feeds, binary);
      const indexed = group.indexed(binary.package);
      if (indexed === undefined || (fieldValue(indexed.text, 'Source') ?? indexed.package) !== this.source) continue;
      if (compareVersions(indexed.version, this.changes.version) >= 0) continue;
      group.remove(binary.package);
      this.#dropped.push({ package: indexed.package, version: indexed.version, feed: indexed.feed });
    }
  }

  /** Step 4: logs and results (those an interrupted run stored already are not in the entry's results any more). */
  async storeLogs(syncs: DirectorySyncs): Promise<void> {
    const { entry } = this;
    const results: BuildRecord[] = [...entry.results]
      .filter(([build, path]) => path === join(entry.directory, `${build}.result`) && parseBuildName(build) !== undefined)
      .map(([build, path]) => ({ build, path, extension: '.result' }));
    await storeBuildRecords(this.layout, this.source, this.key, [...this.#logs, ...results], syncs);
    await storeChangesRecord(this.layout, this.source, this.key, join(entry.directory, entry.changes), syncs);
  }

  /** What the inclusion did, given the feeds the batch wrote. */
  report(written: ReadonlyMap<FeedGroup, readonly string[]>): InclusionReport {
    const feeds = new Set<string>();
    for (const group of this.#groups) for (const feed of written.get(group) ?? []) feeds.add(feed);
    return {
      key: this.key,
      source: this.source,
      version: this.changes.version,
      distribution: this.changes.distribution,
      suite: uploadSuite(this.changes.distribution),
      installed: this.#installed
        .map((candidate) => ({
          file: candidate.pool,
          package: candidate.package,
          version: candidate.version,
          architecture: candidate.architecture,
          platform: candidate.platform,
          size: candidate.digests.size,
          build: candidate.buildNumber,
        }))
        .sort((a, b) => byteOrder(a.file, b.file)),
      refused: [...this.#refused].sort((a, b) => byteOrder(a.file, b.file) || byteOrder(a.reason, b.reason)),
      superseded: [...this.#superseded].sort((a, b) => byteOrder(a.file, b.file)),
      dropped: [...this.#dropped].sort((a, b) => byteOrder(a.feed, b.feed) || byteOrder(a.package, b.package)),
      failedBuilds: [...this.#failedBuilds].sort((a, b) => byteOrder(buildName(a), buildName(b))),
      feeds: [...feeds].sort(byteOrder),
    };
  }

  /** Step 6, first half: renames the entry into tmp/ (the caller fsyncs both directories) and returns where it went. */
  async moveOut(): Promise<string> {
    const doomed = join(this.layout.tmp, `${INCLUDED_PREFIX}${this.key}`);
    await rm(doomed, { recursive: true, force: true });
    await rename(this.entry.directory, doomed);
    return doomed;
  }

  async #readChanges(entry: EntryFiles): Promise<Changes> {
    const path = join(entry.directory, entry.changes);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new InclusionError('archive.bad-entry', path, 'missing: builddd moves the .changes in before the source package');
    }
    let changes: Changes;
    try {
      changes = parseChanges(text, path);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      throw new InclusionError('archive.bad-entry', path, `invalid .changes: ${error.message}`);
    }
    if (changes.source !== this.source || versionForFileName(changes.version) !== this.keyVersion) {
      throw new InclusionError(
        'archive.bad-entry',
        path,
        `the .changes is for ${changes.source} ${changes.version}, not the entry's ${this.source} ${this.keyVersion}`,
      );
    }
    return changes;
  }

  /** Reads one build's result; for a successful build, examines each binary it lists. */
  async #examineBuild(entry: EntryFiles, changes: Changes, stem: string, path: string, unlisted: Set<string>): Promise<void> {
    const file = `${stem}.result`;
    const build = parseBuildName(stem);
    if (build === undefined) {
      this.#refuse(file, 'the name is not <architecture>_<platform>.result for a concrete architecture (all or real) and platform');
      return;
    }
    let result;
    try {
      result = parseBuildResult(await readFile(path, 'utf8'), file, build);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      this.#refuse(file, `unreadable build result: ${oneLine(error.message)}`);
      this.#failedBuilds.push({ ...build, error: `unreadable build result: ${oneLine(error.message)}` });
      return;
    }
    if (result.status === 'failed') {
      this.#failedBuilds.push(result.error === undefined ? build : { ...build, error: oneLine(result.error) });
      return;
    }
    for (const name of result.binaries) {
      const nameProblem = uploadFileNameProblem(name) ?? (name.endsWith('.opk') ? undefined : `${JSON.stringify(name)} is not an .opk`);
      if (nameProblem !== undefined || name === entry.sourcePackage || name === entry.changes) {
        this.#refuse(file, `lists a binary that cannot be one: ${nameProblem ?? JSON.stringify(name)}`);
        continue;
      }
      if (!unlisted.delete(name)) {
        this.#refuse(name, entry.names.includes(name) ? `listed again by ${file}` : `listed by ${file} but not in the entry`);
        continue;
      }
      const candidate = await this.#examine(entry, name, build, changes, (control) =>
        binaryControlProblem(control, {
          source: this.source,
          version: changes.version,
          architecture: build.architecture,
          platform: build.platform,
          binaries: changes.binaries,
        }),
      );
      if (candidate) this.#candidates.push(candidate);
    }
  }

  /** Reads and checks one package; refuses it (and returns undefined) when it is unsafe or does not fit. */
  async #examine(
    entry: EntryFiles,
    name: string,
    build: Build,
    changes: Changes,
    problemOf: (control: Stanza) => string | undefined,
  ): Promise<Candidate | undefined> {
    const path = join(entry.directory, name);
    const stats = await lstat(path);
    if (!stats.isFile()) {
      this.#refuse(name, 'not a regular file');
      return undefined;
    }
    let control: Stanza;
    try {
      control = (await readOpk(path, { maxDataSize: this.maxDataSize })).control;
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      // The message names the file by its full path; the report names it as the entry does.
      this.#refuse(name, oneLine(error.message.split(`${path}: `).join('').split(path).join(name)));
      return undefined;
    }
    const problem = problemOf(control);
    if (problem !== undefined) {
      this.#refuse(name, problem);
      return undefined;
    }
    const pkg = control.get('Package') as string;
    const version = control.get('Version') as string;
    const section = sectionOf(control);
    const digests = await digestFile(path);
    const pool = poolPath(this.source, poolFileName(pkg, version, build.architecture, build.platform));
    const feed = feedPath(changes.distribution, build.architecture, build.platform, section);
    let controlText: string;
    try {
      controlText = indexedControlText(control);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      this.#refuse(name, `the control file cannot be written into an index: ${error.detail}`);
      return undefined;
    }
    const stanza = indexStanzaText(controlText, feedFilename(feed, pool), digests);
    const builds = build.architecture === SRC && control.has('Binary') ? listValue(control.get('Binary')) : undefined;
    return { ...build, name, path, package: pkg, version, section, pool, feed, controlText, digests, stanza, builds };
  }

  async #group(feeds: FeedCache, build: Build): Promise<FeedGroup> {
    const group = await feeds.get(this.changes.distribution, build);
    this.#groups.add(group);
    return group;
  }

  #refuse(file: string, problem: string): void {
    this.#refused.push({ file, reason: `${file}: ${oneLine(problem)}` });
  }

}

/** Sends the installed notice; never throws. */
async function sendInstalled(mailer: Mailer, report: InclusionReport, changes: Changes): Promise<{ id: string | undefined; failure?: string }> {
  try {
    const notice = installedMessage(mailer.settings, {
      key: report.key,
      source: report.source,
      version: report.version,
      maintainer: changes.maintainer,
      changedBy: changes.changedBy,
      suite: report.suite,
      files: report.installed.map((file) => ({ name: file.file, size: file.size })),
      leftOut: [
        ...report.refused.map((refused) => refused.reason),
        ...report.superseded.map((older) => `${older.file}: version ${older.version} is older than ${older.indexedVersion}, which ${older.feed} lists`),
      ],
    });
    const delivery = await mailer.send(notice);
    return delivery.failure === undefined ? { id: delivery.id } : { id: delivery.id, failure: delivery.failure };
  } catch (error) {
    return { id: undefined, failure: describeError(error) };
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
