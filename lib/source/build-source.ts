/**
 * `opkfarm source build`: turns an SPF 2.0 source directory into an upload,
 * `<source>_<version>_src.opk` plus `<source>_<version>.changes`, as
 * `dpkg-source -b` with `dpkg-genchanges` would.
 *
 * The source opk is `Package: src-<source>`, `Architecture: src`,
 * `Platform: all`, and installs the source tree under
 * `usr/src/<source>_<version>/` (FORMATS.md). The build work area `tmp/` and
 * version-control directories are left out. Output is reproducible: every
 * mtime is SOURCE_DATE_EPOCH, which defaults to the change log entry's date.
 * The opk is written before the .changes, each atomically, so a .changes
 * never names a file that is not complete.
 */
import { cp, mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SRC } from '../formats/architecture.js';
import { formatChanges, sourcePackageFileName, type ChangesFields } from '../formats/changes.js';
import { Stanza } from '../formats/control.js';
import { sourcePackageName } from '../formats/names.js';
import { versionForFileName } from '../formats/version.js';
import { writeContentAtomic } from '../fs/atomic.js';
import { digestFile } from '../fs/hash.js';
import { writeOpk } from '../opk/write.js';
import { isExcludedFromSource, readSourceDirectory, type SourceDirectory } from './spf.js';

export interface SourceBuildOptions {
  /** Where the upload files go; created when missing. */
  readonly outputDirectory: string;
  /** Overrides SOURCE_DATE_EPOCH and the change log date. */
  readonly sourceDateEpoch?: number;
}

export interface SourceBuildResult {
  readonly source: string;
  readonly version: string;
  readonly sourcePackage: string;
  readonly changesFile: string;
}

/** Source fields copied from the source control file into the source opk's control. */
const COPIED_SOURCE_FIELDS = ['Section', 'Build-Depends', 'Homepage'] as const;

/** Builds the source opk and .changes of the source package in `directory`. */
export async function buildSourcePackage(directory: string, options: SourceBuildOptions): Promise<SourceBuildResult> {
  const spec = await readSourceDirectory(directory);
  const { source, version } = spec.changelog;
  const epoch = options.sourceDateEpoch ?? environmentEpoch() ?? spec.changelog.timestamp;
  // Checked on the paths as given before creating anything, then on real paths (symlinks).
  checkOutsideSource(resolve(directory), resolve(options.outputDirectory));
  await mkdir(options.outputDirectory, { recursive: true });
  checkOutsideSource(await realpath(directory), await realpath(options.outputDirectory));

  const sourcePackage = join(options.outputDirectory, sourcePackageFileName(source, version));
  // The data tree is staged beside the output so that the writer's temporaries share its filesystem.
  const staging = await mkdtemp(join(options.outputDirectory, '.tmp-source-'));
  try {
    const tree = join(staging, 'usr', 'src', `${source}_${versionForFileName(version)}`);
    await mkdir(tree, { recursive: true });
    await cp(directory, tree, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (path) => !isExcludedFromSource(relative(directory, path).split(sep)),
    });
    await writeOpk({
      destination: sourcePackage,
      control: sourceControl(spec),
      dataDirectory: staging,
      sourceDateEpoch: epoch,
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  const digests = await digestFile(sourcePackage);
  const changesFile = join(options.outputDirectory, `${source}_${versionForFileName(version)}.changes`);
  const fields: ChangesFields = {
    date: spec.changelog.date,
    source,
    binaries: spec.binaryPackages.map((binary) => binary.name),
    architectures: unique(spec.binaryPackages.flatMap((binary) => binary.architectures)),
    platforms: unique(spec.binaryPackages.flatMap((binary) => binary.platforms)),
    version,
    distribution: spec.changelog.distribution,
    maintainer: spec.control.get('Maintainer') ?? '',
    changedBy: spec.changelog.changedBy,
    description: spec.binaryPackages.map((binary) => `${binary.name} - ${summaryOf(binary.control)}`).join('\n'),
    changesText: spec.changelog.lines.join('\n'),
    files: [{ name: basename(sourcePackage), size: digests.size, sha256: digests.sha256, md5: digests.md5 }],
  };
  await writeContentAtomic(changesFile, formatChanges(fields));
  return { source, version, sourcePackage, changesFile };
}

/**
 * The upload must not land in the tree it is made from: the tree is copied
 * into a staging directory beside the upload, and a later build would pack
 * the earlier upload.
 */
function checkOutsideSource(directory: string, output: string): void {
  const path = relative(directory, output);
  if (path === '' || (path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path))) {
    throw new Error(
      `output directory ${output} is inside the source package directory ${directory}; write the upload elsewhere, e.g. in its parent directory`,
    );
  }
}

/** The control stanza of the source opk. */
function sourceControl(spec: SourceDirectory): Stanza {
  const { source, version } = spec.changelog;
  const control = new Stanza([
    ['Package', sourcePackageName(source)],
    ['Source', source],
    ['Version', version],
    ['Architecture', SRC],
    ['Platform', 'all'],
    ['Maintainer', spec.control.get('Maintainer') ?? ''],
  ]);
  for (const field of COPIED_SOURCE_FIELDS) {
    const value = spec.control.get(field);
    if (value !== undefined) control.set(field, value);
  }
  control.set('Binary', spec.binaryPackages.map((binary) => binary.name).join(', '));
  control.set('Description', `source package of ${source}`);
  return control;
}

function summaryOf(control: Stanza): string {
  const description = control.get('Description') ?? '';
  return description.split('\n', 1)[0] ?? '';
}

function environmentEpoch(): number | undefined {
  const value = process.env.SOURCE_DATE_EPOCH;
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
