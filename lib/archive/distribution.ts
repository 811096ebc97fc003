/**
 * Which distribution a pool file belongs to, from the pool alone. A source
 * package's data holds its tree under `usr/src/<source>_<version>/`
 * (FORMATS.md), change log included, and the first entry of the change log
 * names the distribution the upload went to (the .changes Distribution is
 * made from it). A binary belongs to the distribution of the source package
 * it was built from: its Source (or, without one, its Package) and Version.
 */
import { FormatError } from '../errors.js';
import { parseChangelogEntry } from '../formats/changelog.js';
import { versionForFileName } from '../formats/version.js';

/** Where a source package's change log is in its data archive (normalised as readOpk gives paths). */
export function changelogPath(source: string, version: string): string {
  return `usr/src/${source}_${versionForFileName(version)}/changelog`;
}

/**
 * The distribution a source package was uploaded to, from the start of its
 * change log (undefined when the package has none); `file` names the package
 * in errors. The entry must be the package's own source and version.
 */
export function distributionOf(changelog: Buffer | undefined, file: string, source: string, version: string): string {
  const where = `${file}: ${changelogPath(source, version)}`;
  if (changelog === undefined) {
    throw new FormatError('changelog.malformed', file, `no ${changelogPath(source, version)}: the source package does not say its distribution`);
  }
  const entry = parseChangelogEntry(changelog.toString('utf8'), where);
  if (entry.source !== source || entry.version !== version) {
    throw new FormatError('changelog.malformed', where, `the first entry is for ${entry.source} ${entry.version}, not the package's ${source} ${version}`);
  }
  return entry.distribution;
}

/** The key of a source version: the source name and the version, epoch included. */
export function sourceVersionKey(source: string, version: string): string {
  return `${source} ${version}`;
}
