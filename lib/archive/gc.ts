/**
 * Garbage collection of the pool, by references with explicit keep marks.
 *
 * A pool file is kept while
 *   - any suite's index lists it (dev and rel alike);
 *   - its package version carries a keep mark (keeps.ts);
 *   - it is among the newest `keepBuilds` pool files of its package,
 *     architecture and platform (by version, then build number);
 *   - it is in its grace period: unreferenced for less than `graceSeconds`
 *     (mirrors lag behind the indexes);
 *   - it is a source package (`src-…`) and a binary of its version is still
 *     in its source's pool directory.
 * Everything else goes. Collection repeats until a pass deletes nothing: a
 * pass that deletes the last binaries of a version releases its source
 * package for the next. At most `maxDeletions` files go per run.
 *
 * When a file was first seen unreferenced is recorded in `state/gc-state`
 * (written atomically at the end of a run that is not a dry run): the grace
 * period counts from the first run that saw it unreferenced. An unreferenced
 * file that no stored build record (logs/<source>/*.result, which archived
 * keeps for every upload it includes, and every package it includes it
 * indexes) accounts for was never listed: it is reported as an orphan. A run holds the archive lock; a dry run reads
 * without it (indexes and pool files are only ever replaced whole) and
 * writes nothing.
 */
import { lstat, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SRC } from '../formats/architecture.js';
import { compareVersions, versionForFileName } from '../formats/version.js';
import { DirectorySyncs, writeContentAtomic } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { sourcePackageName } from '../formats/names.js';
import { listKeepMarks } from './keeps.js';
import { withArchiveLock, type ArchiveLockOptions } from './lock.js';
import { inArchive, logDirectory, parsePoolFileName, type PoolFileName } from './paths.js';
import { listSuites, readSuite } from './suites.js';

export interface GcOptions {
  /** Pool files of a package (per architecture and platform) kept whatever refers to them: the newest N. */
  readonly keepBuilds: number;
  /** How long an unreferenced file stays, in seconds. */
  readonly graceSeconds: number;
  /** Deletions per run at most; the rest waits for the next run. */
  readonly maxDeletions: number;
  readonly dryRun: boolean;
  readonly now?: Date;
}

/** Why a file stays. */
export type KeepReason = 'indexed' | 'keep-mark' | 'recent-build' | 'grace' | 'source-of-binary';

export interface CollectedFile {
  /** Archive-relative pool path. */
  readonly pool: string;
  readonly size: number;
  /** The pass that deleted it (1 for the first). */
  readonly pass: number;
  /** No run of gc ever saw an index list it. */
  readonly orphan: boolean;
}

export interface GcReport {
  /** What went (or, in a dry run, would go), in order. */
  readonly collected: CollectedFile[];
  readonly freedBytes: number;
  /** Passes that deleted something. */
  readonly passes: number;
  /** True when `maxDeletions` stopped the run with more to collect. */
  readonly capped: boolean;
  /** Files kept, by reason (a file counts under its first reason, in the order of KeepReason). */
  readonly kept: Readonly<Record<KeepReason, number>>;
  /** Unreferenced files that no run ever saw listed, kept or not. */
  readonly orphans: string[];
  /** Files in the pool whose names the pool never makes: reported, never deleted. */
  readonly unrecognised: string[];
}

interface PoolFile {
  readonly pool: string;
  /** The source's pool directory, `pool/<hash>/<source>`. */
  readonly directory: string;
  readonly name: PoolFileName;
  readonly size: number;
}

interface GcState {
  /** Pool path → when a run first saw it unreferenced. */
  readonly unreferencedSince: Map<string, Date>;
}

const STATE_FILE = 'gc-state';

/** Collects the pool's garbage; see the file comment for what is kept. */
export async function collectGarbage(layout: QueueLayout, options: GcOptions, lock?: ArchiveLockOptions): Promise<GcReport> {
  if (options.dryRun) return collect(layout, options);
  return withArchiveLock(layout, () => collect(layout, options), lock);
}

async function collect(layout: QueueLayout, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? new Date();
  const state = await readState(layout);
  const { files, unrecognised } = await listPool(layout);
  const referenced = new Set<string>();
  for (const suite of await listSuites(layout)) for (const entry of await readSuite(layout, suite)) referenced.add(entry.pool);
  const marks = new Set((await listKeepMarks(layout)).map((mark) => `${mark.package}_${mark.version}`));

  for (const file of files) {
    if (referenced.has(file.pool)) state.unreferencedSince.delete(file.pool);
    else if (!state.unreferencedSince.has(file.pool)) state.unreferencedSince.set(file.pool, now);
  }
  const included = new IncludedFiles(layout);
  const orphans: string[] = [];
  for (const file of files) if (!referenced.has(file.pool) && !(await included.accountsFor(file))) orphans.push(file.pool);
  const orphaned = new Set(orphans);

  const present = new Map(files.map((file) => [file.pool, file]));
  const collected: CollectedFile[] = [];
  const syncs = new DirectorySyncs();
  let passes = 0;
  let capped = false;
  let kept: Map<string, KeepReason> = new Map();
  for (;;) {
    kept = keptFiles([...present.values()], { referenced, marks, state, now, options });
    const doomed = [...present.values()].filter((file) => !kept.has(file.pool));
    if (doomed.length === 0) break;
    passes += 1;
    const room = options.maxDeletions - collected.length;
    const going = doomed.slice(0, Math.max(0, room));
    capped = going.length < doomed.length;
    if (!options.dryRun) await deleteFiles(layout, going, syncs);
    for (const file of going) {
      collected.push({ pool: file.pool, size: file.size, pass: passes, orphan: orphaned.has(file.pool) });
      present.delete(file.pool);
      state.unreferencedSince.delete(file.pool);
    }
    if (capped) break;
  }

  if (!options.dryRun) {
    await syncs.flush();
    await removeEmptyDirectories(layout, new Set(collected.map((file) => posix.dirname(file.pool))));
    for (const pool of [...state.unreferencedSince.keys()]) if (!present.has(pool)) state.unreferencedSince.delete(pool);
    await writeState(layout, state);
  }

  const counts: Record<KeepReason, number> = { indexed: 0, 'keep-mark': 0, 'recent-build': 0, grace: 0, 'source-of-binary': 0 };
  for (const reason of kept.values()) counts[reason] += 1;
  return {
    collected,
    freedBytes: collected.reduce((sum, file) => sum + file.size, 0),
    passes,
    capped,
    kept: counts,
    orphans,
    unrecognised,
  };
}

/** Unlinks in the pool, several at a time: one after the other, 80,000 deletions took most of a run. */
async function deleteFiles(layout: QueueLayout, files: readonly PoolFile[], syncs: DirectorySyncs): Promise<void> {
  const CONCURRENT = 32;
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as PoolFile;
      await unlink(inArchive(layout, file.pool));
      syncs.add(inArchive(layout, file.directory));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT, files.length) }, worker));
}

interface KeepContext {
  readonly referenced: ReadonlySet<string>;
  readonly marks: ReadonlySet<string>;
  readonly state: GcState;
  readonly now: Date;
  readonly options: GcOptions;
}

/** Every present file that stays, with its first reason. */
function keptFiles(files: readonly PoolFile[], context: KeepContext): Map<string, KeepReason> {
  const { referenced, marks, state, now, options } = context;
  const kept = new Map<string, KeepReason>();
  const keep = (file: PoolFile, reason: KeepReason) => {
    if (!kept.has(file.pool)) kept.set(file.pool, reason);
  };
  for (const file of files) if (referenced.has(file.pool)) keep(file, 'indexed');
  // Keep marks, like upload file names, drop the epoch.
  for (const file of files) if (marks.has(`${file.name.package}_${versionForFileName(file.name.version)}`)) keep(file, 'keep-mark');
  for (const newest of newestBuilds(files, options.keepBuilds)) keep(newest, 'recent-build');
  for (const file of files) {
    const since = state.unreferencedSince.get(file.pool);
    if (since !== undefined && now.getTime() - since.getTime() < options.graceSeconds * 1000) keep(file, 'grace');
  }
  // A source package stays while a binary built from it is in the pool: same source directory, same version.
  const builtFrom = new Set<string>();
  for (const file of files) if (file.name.architecture !== SRC) builtFrom.add(`${file.directory} ${file.name.version}`);
  for (const file of files) {
    if (file.name.architecture === SRC && builtFrom.has(`${file.directory} ${file.name.version}`)) keep(file, 'source-of-binary');
  }
  return kept;
}

/** The newest `count` files of each package, architecture and platform: by version, then build. */
function newestBuilds(files: readonly PoolFile[], count: number): PoolFile[] {
  if (count <= 0) return [];
  const groups = new Map<string, PoolFile[]>();
  for (const file of files) {
    const id = `${file.directory} ${file.name.package} ${file.name.architecture} ${file.name.platform}`;
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [file]);
    else group.push(file);
  }
  const newest: PoolFile[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => compareVersions(b.name.version, a.name.version) || b.name.build - a.name.build);
    newest.push(...group.slice(0, count));
  }
  return newest;
}

/** Every `.opk` in `pool/<hash>/<source>/`, and the names there the pool never makes. */
async function listPool(layout: QueueLayout): Promise<{ files: PoolFile[]; unrecognised: string[] }> {
  const files: PoolFile[] = [];
  const unrecognised: string[] = [];
  for (const hash of await namesIn(inArchive(layout, 'pool'))) {
    for (const source of await namesIn(inArchive(layout, `pool/${hash}`))) {
      const directory = `pool/${hash}/${source}`;
      for (const fileName of await namesIn(inArchive(layout, directory))) {
        const pool = `${directory}/${fileName}`;
        const name = parsePoolFileName(fileName);
        const stats = await lstat(inArchive(layout, pool));
        if (name === undefined || !stats.isFile()) unrecognised.push(pool);
        else files.push({ pool, directory, name, size: stats.size });
      }
    }
  }
  return { files, unrecognised };
}

async function namesIn(directory: string): Promise<string[]> {
  const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
    throw error;
  });
  return names.sort();
}

/** Removes source directories gc emptied, and hash directories left empty by that. */
async function removeEmptyDirectories(layout: QueueLayout, directories: ReadonlySet<string>): Promise<void> {
  const tryRemove = (relative: string) =>
    rmdir(inArchive(layout, relative)).then(
      () => true,
      () => false,
    );
  for (const directory of directories) {
    if (await tryRemove(directory)) await tryRemove(posix.dirname(directory));
  }
}

async function readState(layout: QueueLayout): Promise<GcState> {
  const state: GcState = { unreferencedSince: new Map() };
  const text = await readFile(join(layout.state, STATE_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  for (const line of text.split('\n')) {
    const [kind, value, pool] = line.split('\t');
    if (pool === undefined) continue;
    if (kind === 'unreferenced' && value !== undefined && !Number.isNaN(Date.parse(value))) state.unreferencedSince.set(pool, new Date(value));
  }
  return state;
}

async function writeState(layout: QueueLayout, state: GcState): Promise<void> {
  const lines = [
    '# opkfarm archive gc: since when each pool file no index lists has been unreferenced',
    ...[...state.unreferencedSince].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pool, since]) => `unreferenced\t${since.toISOString()}\t${pool}`),
  ];
  await writeContentAtomic(join(layout.state, STATE_FILE), `${lines.join('\n')}\n`);
}

/**
 * What archived included, from the build records it stores per source:
 * each result's Binaries (the name of build 1; later builds add `_b<N>`),
 * and the source package of each stored upload key. Read per source, on
 * demand: only unreferenced files are asked about.
 */
class IncludedFiles {
  readonly #bySource = new Map<string, Set<string>>();

  constructor(private readonly layout: QueueLayout) {}

  async accountsFor(file: PoolFile): Promise<boolean> {
    const source = posix.basename(file.directory);
    let names = this.#bySource.get(source);
    if (names === undefined) {
      names = await this.#read(source);
      this.#bySource.set(source, names);
    }
    const { package: pkg, version, architecture, platform } = file.name;
    // Results name binaries as uploads do: without the epoch.
    return names.has(`${pkg}_${versionForFileName(version)}_${architecture}_${platform}.opk`);
  }

  async #read(source: string): Promise<Set<string>> {
    const names = new Set<string>();
    const directory = inArchive(this.layout, logDirectory(source));
    for (const name of await namesIn(directory)) {
      const key = parseUploadKey(name.split('_').slice(0, 3).join('_'));
      if (!name.endsWith('.result') || key === undefined) continue;
      names.add(`${sourcePackageName(source)}_${key.version}_${SRC}_all.opk`);
      const text = await readFile(join(directory, name), 'utf8').catch(() => '');
      const binaries = /^Binaries:(.*)$/m.exec(text)?.[1] ?? '';
      for (const binary of binaries.trim().split(/\s+/)) if (binary !== '') names.add(binary);
    }
    return names;
  }
}
