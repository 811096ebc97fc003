/**
 * What an inclusion needs to know of the rest of a source in the pool
 * (`pool/<hash>/<source>/`), by its file names, without reading the
 * packages (one exception, below):
 *
 * - which binaries the source has had (package, architecture, platform):
 *   the feeds an older version's binaries may still be listed in;
 * - whether this very version of its source package is pooled from an
 *   upload to another distribution. Only then is a pooled package read:
 *   the source package of the same version, for the distribution its
 *   change log names (distribution.ts).
 *
 * Reading only. Accept asks the second question too, to refuse such an
 * upload before it is built; inclusion asks it again, since another accept
 * or a change to the archive may come between.
 */
import { readdir } from 'node:fs/promises';
import { FormatError } from '../errors.js';
import { SRC } from '../formats/architecture.js';
import { sourcePackageName } from '../formats/names.js';
import type { QueueLayout } from '../layout.js';
import { scanOpk } from '../opk/scan.js';
import { changelogPath, distributionOf } from './distribution.js';
import { inArchive, parsePoolFileName, poolNameHasVersion, poolPath, sourcePoolDirectory, type PoolFileName } from './paths.js';

/** A pool file of the source: its name, parsed. */
export interface SourcePoolFile {
  readonly file: string;
  readonly name: PoolFileName;
}

/** The pool files of a source's directory (none when it has none yet); other names are left out. */
export async function sourcePoolFiles(layout: QueueLayout, source: string): Promise<SourcePoolFile[]> {
  const names = await readdir(inArchive(layout, sourcePoolDirectory(source))).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const files: SourcePoolFile[] = [];
  for (const file of names.sort()) {
    const name = parsePoolFileName(file);
    if (name !== undefined) files.push({ file, name });
  }
  return files;
}

/** Each binary package, architecture and platform the pool holds of a source, once. */
export function binaryFeedsOf(files: readonly SourcePoolFile[]): Array<{ package: string; architecture: string; platform: string }> {
  const seen = new Map<string, { package: string; architecture: string; platform: string }>();
  for (const { name } of files) {
    if (name.architecture === SRC) continue;
    seen.set(`${name.package} ${name.architecture} ${name.platform}`, { package: name.package, architecture: name.architecture, platform: name.platform });
  }
  return [...seen.values()];
}

/**
 * The other distribution and pool file of `source` `version` when its source
 * package is pooled from an upload to another distribution than
 * `distribution`; undefined when it is not. A pooled source package that
 * cannot be read does not count (archive verify reports it).
 */
export async function pooledForOtherDistribution(
  layout: QueueLayout,
  source: string,
  version: string,
  distribution: string,
  files: readonly SourcePoolFile[],
): Promise<{ distribution: string; pool: string } | undefined> {
  const sourcePackage = sourcePackageName(source);
  for (const { file, name } of files) {
    if (name.package !== sourcePackage || !poolNameHasVersion(name, version)) continue;
    const pool = poolPath(source, file);
    const path = inArchive(layout, pool);
    try {
      const scanned = await scanOpk(path, { dataFile: changelogPath(source, version) });
      if (scanned.control.get('Version') !== version) continue;
      const other = distributionOf(scanned.dataFile, path, source, version);
      if (other !== distribution) return { distribution: other, pool };
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
    }
  }
  return undefined;
}

/**
 * Why an upload of `source` `version` to `distribution` would go into no
 * distribution (otherDistributionReason), or undefined when it would: what
 * accept refuses and buildq show warns of, from the pool as it is now.
 */
export async function otherDistributionProblem(layout: QueueLayout, source: string, version: string, distribution: string): Promise<string | undefined> {
  const elsewhere = await pooledForOtherDistribution(layout, source, version, distribution, await sourcePoolFiles(layout, source));
  return elsewhere === undefined ? undefined : otherDistributionReason(source, version, distribution, elsewhere);
}

/**
 * Why an upload of `source` `version` to `distribution` goes into no
 * distribution, its version being pooled from an upload to another
 * (pooledForOtherDistribution): one line, naming both and the pool file.
 */
export function otherDistributionReason(source: string, version: string, distribution: string, elsewhere: { distribution: string; pool: string }): string {
  return `${source} ${version} is in the pool from an upload to ${elsewhere.distribution} (${elsewhere.pool}); a version goes into one distribution: upload a version of its own to ${distribution}`;
}
