/**
 * Where the published archive keeps things (FORMATS.md, "Archive layout"),
 * under the queue root's `archive/` directory (lib/layout.ts):
 *
 *   pool/<hash>/<source>/<package>_<version>_<arch>_<plat>.opk        (build 1)
 *   pool/<hash>/<source>/<package>_<version>_<arch>_<plat>_b<N>.opk   (build N > 1)
 *     <version> with its epoch, if any: hello_1:2.0-1_all_all.opk
 *   feeds/dev/<distribution>/<arch>/<plat>/<section>/Packages(.gz)
 *   logs/<source>/<key>_<arch>_<plat>.log and .result
 *   logs/<source>/<key>.changes
 *
 * Paths here are archive-relative with "/" separators: they are what the
 * reports and index Filename fields show; `inArchive` makes them absolute.
 * Every name joined here was validated first (package, architecture,
 * platform, section and distribution names cannot hold "/" or be "..").
 */
import { join, posix } from 'node:path';
import { versionForFileName } from '../formats/version.js';
import type { QueueLayout } from '../layout.js';

/** The channel uploads land in; `rel` snapshots are made from it later. */
export const UPLOAD_CHANNEL = 'dev';

/** The pool's hash directory of a source: its first letter, or its first four when it starts with "lib". */
export function poolHash(source: string): string {
  return source.startsWith('lib') ? source.slice(0, 4) : source.slice(0, 1);
}

/**
 * A package's pool file name: `<package>_<version>_<arch>_<plat>.opk` for
 * its first build, and `_b<N>` before `.opk` for build N > 1 (a rebuild of
 * the same version with other bytes). No package, version, architecture or
 * platform name holds "_", so the fifth field can only be the build.
 *
 * The version keeps its epoch (`1:2.0-1`), unlike upload file names
 * (FORMATS.md): `2.0-1` and `1:2.0-1` are two versions that may both be in
 * the pool, and in two distributions' indexes, at once; without the epoch
 * they would share a name, and the later would pass for a rebuild of the
 * earlier. ":" is a plain character in a file name and in a URL path (opkg
 * fetches `<feed>/<Filename>` as written, so an escape such as `%3a` would
 * be decoded by the web server into a name that does not exist). Pools
 * written before kept no epoch: such names are still read (parsePoolFileName
 * gives the version as the name has it; check-package.ts accepts both).
 */
export function poolFileName(pkg: string, version: string, architecture: string, platform: string, build = 1): string {
  if (!(Number.isSafeInteger(build) && build >= 1)) throw new RangeError(`poolFileName: build must be a positive integer, got ${build}`);
  return `${pkg}_${version}_${architecture}_${platform}${build === 1 ? '' : `_b${build}`}.opk`;
}

/** What a pool file name says: package, version (with its epoch, but in names made before epochs were kept), architecture, platform and build number. */
export interface PoolFileName {
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
  readonly platform: string;
  readonly build: number;
}

const POOL_FILE_NAME = /^([^_/:]+)_([^_/]+)_([^_/:]+)_([^_/:]+?)(?:_b([1-9][0-9]*))?\.opk$/;

/** Parses a pool file name; undefined for a name poolFileName would not make. poolFileName(...) of the result gives the name back. */
export function parsePoolFileName(name: string): PoolFileName | undefined {
  const match = POOL_FILE_NAME.exec(name);
  if (!match) return undefined;
  const [, pkg = '', version = '', architecture = '', platform = '', build] = match;
  const number = build === undefined ? 1 : Number(build);
  // Build 1 never carries a suffix: `_b1` is not a name the pool makes.
  if (number === 1 && build !== undefined) return undefined;
  return { package: pkg, version, architecture, platform, build: number };
}

/** Whether a pool name's version names `version`: it is the version, or (a name made before epochs were kept) the version without its epoch. */
export function poolNameHasVersion(name: PoolFileName, version: string): boolean {
  return name.version === version || name.version === versionForFileName(version);
}

/** Archive-relative directory of a source's packages in the pool. */
export function sourcePoolDirectory(source: string): string {
  return posix.join('pool', poolHash(source), source);
}

/** Archive-relative path of a package in the pool. */
export function poolPath(source: string, fileName: string): string {
  return posix.join(sourcePoolDirectory(source), fileName);
}

/** The suite uploads of a distribution land in: `dev/<distribution>`. */
export function uploadSuite(distribution: string): string {
  return `${UPLOAD_CHANNEL}/${distribution}`;
}

/** Archive-relative directory holding the section feeds of one architecture and platform. */
export function feedGroupPath(distribution: string, architecture: string, platform: string): string {
  return posix.join('feeds', UPLOAD_CHANNEL, distribution, architecture, platform);
}

/** Archive-relative directory of one feed (it holds Packages and Packages.gz). */
export function feedPath(distribution: string, architecture: string, platform: string, section: string): string {
  return posix.join(feedGroupPath(distribution, architecture, platform), section);
}

/** The Filename an index stanza gives a pool file: relative to the feed directory, so opkg resolves it from the feed URL. */
export function feedFilename(feed: string, pool: string): string {
  return posix.relative(feed, pool);
}

/** Archive-relative directory of a source's stored build logs and results. */
export function logDirectory(source: string): string {
  return posix.join('logs', source);
}

/** Archive-relative path of a stored build log (`.log`) or result (`.result`). */
export function logPath(source: string, key: string, build: string, extension: '.log' | '.result'): string {
  return posix.join(logDirectory(source), `${key}_${build}${extension}`);
}

/** Archive-relative path of an included upload's .changes, kept beside its build logs (retries start from it). */
export function changesRecordPath(source: string, key: string): string {
  return posix.join(logDirectory(source), `${key}.changes`);
}

/** The absolute path of an archive-relative path. */
export function inArchive(layout: QueueLayout, path: string): string {
  return join(layout.archive, ...path.split('/'));
}
