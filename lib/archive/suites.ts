/**
 * Suites: `feeds/<channel>/<distribution>/`, uploads landing in `dev/<dist>`
 * and `rel/<name>` being static snapshots of a dev suite (FORMATS.md).
 *
 * Reading a suite parses its Packages files only; nothing here opens a pool
 * file. A release copies the suite's feed files (never the pool files they
 * name) into a temporary directory beside the destination and renames it
 * into place whole, so a mirror sees no suite or the complete one; the
 * caller holds the archive lock. Feeds of every suite sit at the same depth,
 * so an index's Filename (relative to its feed directory) resolves to the
 * same pool file from the copy.
 */
import { copyFile, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { FormatError } from '../errors.js';
import { formatStanza, parseControl, Stanza } from '../formats/control.js';
import { distributionProblem } from '../formats/names.js';
import { compareVersions } from '../formats/version.js';
import { syncDirectory, TEMP_PREFIX } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { ArchiveCommandError } from './errors.js';
import { withArchiveLock, type ArchiveLockOptions } from './lock.js';
import { inArchive, UPLOAD_CHANNEL } from './paths.js';

/** The channel of static snapshots. */
export const RELEASE_CHANNEL = 'rel';
const CHANNELS = [UPLOAD_CHANNEL, RELEASE_CHANNEL] as const;

/** Name of the file a release writes at the top of its suite. */
export const RELEASE_FILE = 'Release';

/** One stanza of one feed of a suite. */
export interface IndexedPackage {
  readonly suite: string;
  /** Archive-relative feed directory. */
  readonly feed: string;
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
  readonly platform: string;
  /** Archive-relative path of the file the Filename field names. */
  readonly pool: string;
}

/** Every suite of the archive (`dev/trunk`, `rel/rs1`…), sorted. */
export async function listSuites(layout: QueueLayout): Promise<string[]> {
  const suites: string[] = [];
  for (const channel of CHANNELS) {
    for (const name of await directoriesIn(inArchive(layout, `feeds/${channel}`))) suites.push(`${channel}/${name}`);
  }
  return suites.sort();
}

/** Checks a suite name (`dev/<dist>` or `rel/<name>`); returns the problem or undefined. */
export function suiteProblem(suite: string): string | undefined {
  const [channel, name, ...rest] = suite.split('/');
  if (rest.length > 0 || channel === undefined || name === undefined) return `suite ${JSON.stringify(suite)} is not <channel>/<name>`;
  if (!(CHANNELS as readonly string[]).includes(channel)) return `suite ${JSON.stringify(suite)}: the channel must be dev or rel`;
  const problem = distributionProblem(name);
  return problem === undefined ? undefined : `suite ${JSON.stringify(suite)}: ${problem}`;
}

/** Every package every feed of `suite` lists (missing suite: none). */
export async function readSuite(layout: QueueLayout, suite: string): Promise<IndexedPackage[]> {
  const packages: IndexedPackage[] = [];
  const root = `feeds/${suite}`;
  for (const architecture of await directoriesIn(inArchive(layout, root))) {
    for (const platform of await directoriesIn(inArchive(layout, `${root}/${architecture}`))) {
      for (const section of await directoriesIn(inArchive(layout, `${root}/${architecture}/${platform}`))) {
        const feed = `${root}/${architecture}/${platform}/${section}`;
        const file = inArchive(layout, `${feed}/Packages`);
        const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return '';
          throw error;
        });
        for (const stanza of parseControl(text, { file })) packages.push(indexedPackage(suite, feed, stanza, file));
      }
    }
  }
  return packages;
}

function indexedPackage(suite: string, feed: string, stanza: Stanza, file: string): IndexedPackage {
  const field = (name: string): string => {
    const value = stanza.get(name);
    if (value === undefined || value === '') throw new FormatError('control.missing-field', file, `a stanza has no ${name} field`);
    return value;
  };
  const filename = field('Filename');
  const pool = posix.normalize(posix.join(feed, filename));
  if (!pool.startsWith('pool/')) {
    throw new FormatError('control.bad-field', file, `Filename ${JSON.stringify(filename)} of ${field('Package')} is not in the pool`);
  }
  return {
    suite,
    feed,
    package: field('Package'),
    version: field('Version'),
    architecture: field('Architecture'),
    platform: stanza.get('Platform') ?? 'all',
    pool,
  };
}

/**
 * Makes `rel/<name>` a static snapshot of the suite `from`, holding the
 * archive lock; refuses an existing destination (a release is never
 * rewritten). Returns the number of feeds copied.
 */
export async function releaseSuite(layout: QueueLayout, from: string, to: string, lock?: ArchiveLockOptions): Promise<number> {
  return withArchiveLock(layout, () => release(layout, from, to, new Date()), lock);
}

async function release(layout: QueueLayout, from: string, to: string, now: Date): Promise<number> {
  for (const suite of [from, to]) {
    const problem = suiteProblem(suite);
    if (problem !== undefined) throw new ArchiveCommandError('archive.bad-suite', suite, problem);
  }
  if (!to.startsWith(`${RELEASE_CHANNEL}/`)) throw new ArchiveCommandError('archive.bad-suite', to, `a release goes to ${RELEASE_CHANNEL}/<name>`);
  const source = inArchive(layout, `feeds/${from}`);
  if ((await directoriesIn(source)).length === 0) throw new ArchiveCommandError('archive.no-suite', from, 'no such suite, or it has no feeds');
  const destination = inArchive(layout, `feeds/${to}`);
  if ((await directoriesIn(join(destination, '..'))).includes(to.split('/')[1] as string)) {
    throw new ArchiveCommandError('archive.suite-exists', to, 'already released; a release is a static snapshot and is never rewritten');
  }

  const channel = join(destination, '..');
  await mkdir(channel, { recursive: true });
  const staging = join(channel, `${TEMP_PREFIX}release-${to.split('/')[1] as string}-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  let feeds = 0;
  try {
    for (const architecture of await directoriesIn(source)) {
      for (const platform of await directoriesIn(join(source, architecture))) {
        for (const section of await directoriesIn(join(source, architecture, platform))) {
          const target = join(staging, architecture, platform, section);
          await mkdir(target, { recursive: true });
          for (const name of ['Packages', 'Packages.gz']) await copyDurably(join(source, architecture, platform, section, name), join(target, name));
          feeds += 1;
        }
      }
    }
    const release = new Stanza([
      ['Suite', to],
      ['Released-From', from],
      ['Date', now.toISOString()],
      ['Feeds', String(feeds)],
    ]);
    await writeDurably(join(staging, RELEASE_FILE), formatStanza(release));
    await syncTree(staging);
    await rename(staging, destination);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  await syncDirectory(channel);
  return feeds;
}

/** One difference between two suites, for one package in one architecture/platform. */
export interface SuiteDifference {
  readonly package: string;
  readonly architecture: string;
  readonly platform: string;
  /** The version in each suite; undefined where the suite lacks the package. */
  readonly a: string | undefined;
  readonly b: string | undefined;
}

/** What `a` has that `b` lacks or has at another version (and the reverse), sorted by package. */
export async function diffSuites(layout: QueueLayout, a: string, b: string): Promise<SuiteDifference[]> {
  for (const suite of [a, b]) {
    const problem = suiteProblem(suite);
    if (problem !== undefined) throw new ArchiveCommandError('archive.bad-suite', suite, problem);
    if (!(await listSuites(layout)).includes(suite)) throw new ArchiveCommandError('archive.no-suite', suite, 'no such suite');
  }
  const key = (entry: IndexedPackage) => `${entry.package} ${entry.architecture} ${entry.platform}`;
  const versions = async (suite: string) => {
    const map = new Map<string, IndexedPackage>();
    for (const entry of await readSuite(layout, suite)) {
      const known = map.get(key(entry));
      if (known === undefined || compareVersions(entry.version, known.version) > 0) map.set(key(entry), entry);
    }
    return map;
  };
  const [inA, inB] = await Promise.all([versions(a), versions(b)]);
  const differences: SuiteDifference[] = [];
  for (const id of new Set([...inA.keys(), ...inB.keys()])) {
    const left = inA.get(id);
    const right = inB.get(id);
    if (left !== undefined && right !== undefined && left.version === right.version && left.pool === right.pool) continue;
    const any = (left ?? right) as IndexedPackage;
    differences.push({ package: any.package, architecture: any.architecture, platform: any.platform, a: left?.version, b: right?.version });
  }
  return differences.sort((x, y) => byteOrder(x.package, y.package) || byteOrder(x.architecture, y.architecture) || byteOrder(x.platform, y.platform));
}

async function directoriesIn(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

async function copyDurably(from: string, to: string): Promise<void> {
  await copyFile(from, to).catch((error: NodeJS.ErrnoException) => {
    // A feed whose Packages.gz a crash left out is copied without it; verify reports it.
    if (error.code !== 'ENOENT') throw error;
  });
}

async function writeDurably(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/** fsyncs every file and directory of a freshly written tree, deepest first. */
async function syncTree(directory: string): Promise<void> {
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else {
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }
  await syncDirectory(directory);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
