/**
 * What reindex makes of one source directory of the pool
 * (`pool/<hash>/<source>/`): for each file, the index stanza it is listed
 * with in each feed it belongs to, or why it cannot be listed. A directory
 * holds a source's packages only (check-package.ts pooledControlProblem:
 * a binary's Source is its directory), so which distribution a binary
 * belongs to is settled within it: that of the source package with its
 * version (distribution.ts). A binary is not listed in a distribution
 * whose newest source version of the directory is newer and no longer
 * builds it (not in that source package's Binary field): inclusion unlisted
 * it when that version came (include.ts).
 *
 * Each file is read once (scanOpk, digests in the same read); its control
 * fields are formatted once, and the stanza of each feed adds Filename,
 * Size, MD5Sum and SHA256sum (feeds.ts indexStanzaText). A small binary's
 * data archive is not inflated (scanOpk checkData: false): it was checked
 * when it was included, and `archive verify` checks it again; that is a
 * third of the work per package. Records are plain data, so they cross a
 * worker thread's boundary.
 *
 * A package that cannot be read for want of the environment (EACCES, a
 * missing decompressor) is an EnvironmentError, thrown: not a record.
 */
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { SRC } from '../formats/architecture.js';
import { listValue } from '../formats/control.js';
import { compareVersions } from '../formats/version.js';
import type { FileDigests } from '../fs/hash.js';
import { scanOpk } from '../opk/scan.js';
import { pooledControlProblem, sectionOf } from './check-package.js';
import { changelogPath, distributionOf, sourceVersionKey } from './distribution.js';
import { indexedControlText, indexStanzaText } from './feeds.js';
import { feedFilename, feedPath } from './paths.js';
import { poolFilesOf, type PoolDirectory, type PoolFile } from './pool-listing.js';

/** A pool file that can be listed, with its stanza for each distribution it belongs to. */
export interface Listable {
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
  readonly platform: string;
  readonly section: string;
  readonly build: number;
  readonly stanzas: ReadonlyArray<{ readonly distribution: string; readonly text: string }>;
  /** Distributions it is not listed in although its source version is there (no longer built): its section feed stays. */
  readonly unlisted: readonly string[];
}

export type PoolRecord =
  | { readonly path: string; readonly listable: Listable }
  | { readonly path: string; readonly problem: string };

/** A file read and found to fit its name, before its distributions are known. */
interface Read {
  readonly file: PoolFile;
  readonly version: string;
  readonly architecture: string;
  readonly platform: string;
  readonly section: string;
  readonly package: string;
  readonly controlText: string;
  readonly digests: FileDigests;
  /** Source packages: the start of their change log, when they have one. */
  readonly changelog: Buffer | undefined;
  /** Source packages: their Binary field, the binaries the version builds (undefined without one). */
  readonly builds: readonly string[] | undefined;
}

/** The newest source version of a directory in one distribution, and what it builds. */
interface NewestSource {
  readonly version: string;
  readonly build: number;
  readonly builds: readonly string[] | undefined;
}

/** The records of every file of `directory` (under the archive directory `archive`), sources first. */
export async function poolDirectoryRecords(archive: string, directory: PoolDirectory): Promise<PoolRecord[]> {
  const { files, strays } = poolFilesOf(directory);
  const records: PoolRecord[] = strays.map((stray) => ({ path: stray.file, problem: `${stray.problem}; not indexed` }));
  const distributions = new Map<string, Set<string>>();
  const newest = new Map<string, NewestSource>();
  const sources = files.filter((file) => file.name.architecture === SRC);
  const binaries = files.filter((file) => file.name.architecture !== SRC);
  for (const file of sources) {
    const read = await readPoolFile(archive, file, records);
    if (read === undefined) continue;
    const distribution = sourceDistribution(archive, read, records);
    if (distribution === undefined) continue;
    const key = sourceVersionKey(file.source, read.version);
    distributions.set(key, (distributions.get(key) ?? new Set()).add(distribution));
    const known = newest.get(distribution);
    if (known === undefined || (compareVersions(read.version, known.version) || file.name.build - known.build) > 0) {
      newest.set(distribution, { version: read.version, build: file.name.build, builds: read.builds });
    }
    records.push({ path: file.path, listable: listable(read, [distribution]) });
  }
  for (const file of binaries) {
    const read = await readPoolFile(archive, file, records);
    if (read === undefined) continue;
    const of = distributions.get(sourceVersionKey(file.source, read.version));
    if (of === undefined) {
      records.push({
        path: file.path,
        problem: `an orphan: no source package src-${file.source} ${read.version} with a change log in the pool; not indexed`,
      });
    } else {
      const unlisted = [...of].filter((distribution) => noLongerBuilt(read, newest.get(distribution)));
      records.push({ path: file.path, listable: listable(read, [...of].filter((distribution) => !unlisted.includes(distribution)), unlisted) });
    }
  }
  return records;
}

/** Whether a binary is older than the distribution's newest version of its source, which does not build it. */
function noLongerBuilt(binary: Read, newest: NewestSource | undefined): boolean {
  if (newest?.builds === undefined || compareVersions(binary.version, newest.version) >= 0) return false;
  return !newest.builds.includes(binary.package);
}

/** Reads and checks one file; undefined (and a problem recorded) when it cannot be listed. */
async function readPoolFile(archive: string, file: PoolFile, records: PoolRecord[]): Promise<Read | undefined> {
  const absolute = join(archive, ...file.path.split('/'));
  const isSource = file.name.architecture === SRC;
  try {
    const scanned = await scanOpk(absolute, isSource ? { dataFile: changelogPath(file.source, file.name.version) } : { checkData: false });
    const { control } = scanned;
    const misfit = pooledControlProblem(control, file.name, file.source);
    if (misfit !== undefined) {
      records.push({ path: file.path, problem: `${misfit}; not indexed` });
      return undefined;
    }
    let controlText: string;
    try {
      controlText = indexedControlText(control);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      records.push({ path: file.path, problem: `the control file cannot be written into an index: ${error.detail}; not indexed` });
      return undefined;
    }
    return {
      file,
      package: control.get('Package') as string,
      version: control.get('Version') as string,
      architecture: control.get('Architecture') as string,
      platform: control.get('Platform') as string,
      section: sectionOf(control),
      controlText,
      digests: scanned.digests,
      changelog: scanned.dataFile,
      builds: isSource && control.has('Binary') ? listValue(control.get('Binary')) : undefined,
    };
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    records.push({ path: file.path, problem: `${relativeMessage(error, absolute, file.path)}; not indexed` });
    return undefined;
  }
}

/** The distribution a source package's change log names; undefined (and a problem recorded) when it names none. */
function sourceDistribution(archive: string, read: Read, records: PoolRecord[]): string | undefined {
  const absolute = join(archive, ...read.file.path.split('/'));
  try {
    return distributionOf(read.changelog, absolute, read.file.source, read.version);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    records.push({ path: read.file.path, problem: `${relativeMessage(error, absolute, read.file.path)}; not indexed, nor are its binaries` });
    return undefined;
  }
}

function listable(read: Read, distributions: readonly string[], unlisted: readonly string[] = []): Listable {
  const { file, controlText, digests } = read;
  return {
    package: read.package,
    version: read.version,
    architecture: read.architecture,
    platform: read.platform,
    section: read.section,
    build: file.name.build,
    unlisted,
    stanzas: distributions.map((distribution) => ({
      distribution,
      text: indexStanzaText(controlText, feedFilename(feedPath(distribution, read.architecture, read.platform, read.section), file.path), digests),
    })),
  };
}

/** A FormatError's message about a pool file, naming it archive-relative, without its leading name. */
function relativeMessage(error: FormatError, absolute: string, path: string): string {
  const message = error.message.split(absolute).join(path);
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}
