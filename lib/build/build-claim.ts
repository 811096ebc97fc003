/**
 * PIPELINE.md step 2, the build side: build a claimed entry for every
 * architecture/platform pair the queue owes it, then pop the claim.
 *
 * Per pair, in this order (I3, outputs before pop):
 *   1. build in tmp/.tmp-build-<key>-<arch>_<plat>@<host>@<pid>-XXXXXX/ (fresh);
 *   2. fsync and rename each binary into archive-queue/<key>/, then the log;
 *   3. mail the build log;
 *   4. write archive-queue/<key>/<arch>_<plat>.result (atomic): the pair is
 *      done; remove the work directory.
 * The builder runs in the sandbox when there is one (sandbox.ts), within the
 * queue's time and size limits (limits.ts); a build over a limit fails.
 * Only after every pair has a result is the claim unlinked. Killed at any
 * point, a rerun skips the pairs that have a result and rebuilds the others
 * from a clean work directory; renaming a binary over an earlier attempt's
 * is harmless because the result, written last, names what counts.
 * Aborted (SIGTERM), the build in progress is killed and the claim returned.
 * A build that fails while the queue root's filesystem is nearly full
 * (diskFullProblem) is not recorded either: the disk failed, not the
 * package, so the claim is returned and an EnvironmentError says so.
 */
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EnvironmentError, FormatError, describeError } from '../errors.js';
import { parseChanges, uploadFileNameProblem } from '../formats/changes.js';
import { Stanza, formatStanza } from '../formats/control.js';
import { pathExists } from '../fs/missing.js';
import { syncDirectory, writeContentAtomic } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { inArchive, logPath } from '../archive/paths.js';
import { buildLogMessage } from '../mail/messages.js';
import type { Mailer } from '../mail/mailer.js';
import { extractOpkData } from '../opk/extract.js';
import { finishClaim, returnClaim, type Claim } from '../queue/claims.js';
import type { ProcessIdentity } from '../queue/heartbeat.js';
import { readSourceDirectory, type SourceDirectory } from '../source/spf.js';
import type { Builder, BuildOutcome } from './builder.js';
import { limitProblem, truncateLog, type BuildLimits } from './limits.js';
import type { Sandbox } from './sandbox.js';
import { planBuilds, type PlannedBuild } from './select.js';
import { faultPoint } from '../fault.js';

export interface BuildQueueSettings {
  readonly name: string;
  readonly architectures: readonly string[];
  readonly platforms: readonly string[];
  readonly timeoutSeconds: number;
  readonly limits: BuildLimits;
  /** Unpacked-Size-Limit: a source package whose data inflates past it is not unpacked (a failed build). */
  readonly unpackedLimitBytes?: number;
}

export interface PairResult {
  readonly architecture: string;
  readonly platform: string;
  readonly status: 'ok' | 'failed' | 'skipped';
  readonly binaries: readonly string[];
  readonly durationSeconds: number;
  readonly error?: string;
}

export interface ClaimOutcome {
  /** 'built': every pair has a result and the claim is popped; 'returned': aborted, back in the queue. */
  readonly state: 'built' | 'returned';
  readonly pairs: readonly PairResult[];
}

export interface BuildClaimOptions {
  readonly layout: QueueLayout;
  readonly queue: BuildQueueSettings;
  readonly claim: Claim;
  readonly builder: Builder;
  /** Where builds run confined; unconfined when undefined. */
  readonly sandbox?: Sandbox;
  readonly self: ProcessIdentity;
  readonly signal: AbortSignal;
  readonly mailer?: Mailer;
  /** Called after each pair, for logging. */
  readonly onPair?: (result: PairResult) => void;
}

/** Builds every pair the queue owes a claimed entry, then pops the claim (or returns it when aborted). */
export async function buildClaim(options: BuildClaimOptions): Promise<ClaimOutcome> {
  const { layout, claim, signal } = options;
  const unpacked = await mkdtemp(join(layout.tmp, `.tmp-unpack-${claim.key}@${options.self.host}@${options.self.pid}-`));
  try {
    const entry = layout.archiveQueueEntry(claim.key);
    let tree: string;
    let spec: SourceDirectory;
    try {
      await extractOpkData(claim.path, unpacked, { maxDataSize: options.queue.unpackedLimitBytes });
      faultPoint('buildd.unpacked');
      tree = await sourceTree(unpacked, basename(claim.path));
      spec = await readSourceDirectory(tree);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      // Building again would fail again: record the failure, pop, and let the upload move on.
      return await refuseUnbuildable(options, entry, error);
    }
    const { source, version } = spec.changelog;
    await mkdir(entry, { recursive: true });

    const people = await readChangesPeople(layout, claim.key);
    const pairs: PairResult[] = [];
    for (const build of planBuilds(spec.binaryPackages, options.queue.architectures, options.queue.platforms)) {
      if (signal.aborted) break;
      const resultFile = join(entry, `${build.architecture}_${build.platform}.result`);
      if (await pathExists(resultFile)) {
        pairs.push({ architecture: build.architecture, platform: build.platform, status: 'skipped', binaries: [], durationSeconds: 0 });
        continue;
      }
      const result = await buildPair(options, build, { source, version, people, tree, entry, resultFile });
      if (result === 'aborted') break;
      if ('diskFull' in result) {
        await returnClaim(layout, claim);
        throw new EnvironmentError(
          `${claim.key}: the build for ${build.architecture}_${build.platform} failed ${result.diskFull}: not recorded; ` +
            `the upload is back in queue ${claim.queue}, to be built again once there is room`,
        );
      }
      pairs.push(result);
      options.onPair?.(result);
    }
    if (signal.aborted) {
      await returnClaim(layout, claim);
      return { state: 'returned', pairs };
    }
    await finishClaim(layout, claim);
    return { state: 'built', pairs };
  } finally {
    await rm(unpacked, { recursive: true, force: true });
  }
}

interface Upload {
  readonly source: string;
  readonly version: string;
  /** Who the build-log mail goes to, read once per claim. */
  readonly people: People;
  readonly tree: string;
  readonly entry: string;
  readonly resultFile: string;
}

interface People {
  readonly maintainer?: string;
  readonly changedBy?: string;
}

async function buildPair(options: BuildClaimOptions, build: PlannedBuild, upload: Upload): Promise<PairResult | 'aborted' | { readonly diskFull: string }> {
  const { layout, claim, self } = options;
  const pairName = `${build.architecture}_${build.platform}`;
  const work = await mkdtemp(join(layout.tmp, `.tmp-build-${claim.key}-${pairName}@${self.host}@${self.pid}-`));
  try {
    const outputDirectory = join(work, 'out');
    const workDirectory = join(work, 'work');
    await mkdir(outputDirectory);
    await mkdir(workDirectory);
    const logFile = join(work, 'build.log');
    const started = new Date();
    let outcome: BuildOutcome;
    try {
      outcome = await options.builder({
        source: upload.source,
        version: upload.version,
        sourcePackage: claim.path,
        sourceDirectory: upload.tree,
        architecture: build.architecture,
        platform: build.platform,
        packages: build.packages,
        workDirectory,
        outputDirectory,
        logFile,
        timeoutSeconds: options.queue.timeoutSeconds,
        limits: options.queue.limits,
        mark: { id: basename(work), directory: work },
        ...(options.sandbox === undefined ? {} : { sandbox: options.sandbox }),
        signal: options.signal,
      });
    } catch (error) {
      outcome = { status: 'failed', error: `builder failed: ${describeError(error)}` };
    }
    if (outcome.status === 'aborted') return 'aborted';
    const finished = new Date();

    // The builder checked its commands; this also covers what it did itself (the built-in builder's packing).
    const overLimit = await limitProblem({ logFile, outputDirectory }, options.queue.limits);
    if (overLimit !== undefined) {
      await truncateLog(logFile, options.queue.limits.logBytes);
      outcome = { status: 'failed', error: outcome.error ?? overLimit };
    }
    const binaries = outcome.status === 'ok' ? await packagesIn(outputDirectory) : [];
    let error = outcome.error;
    if (outcome.status === 'ok' && binaries.length === 0) error = 'the builder succeeded but produced no package';
    if (outcome.status === 'ok') error ??= outputNameProblem(binaries, claim.key);
    const status = outcome.status === 'ok' && error === undefined ? 'ok' : 'failed';
    // Measured before the work directory goes: what the build itself wrote counts.
    const diskFull = status === 'failed' ? await diskFullProblem(work) : undefined;
    if (diskFull !== undefined) return { diskFull };
    if (status === 'ok') {
      for (const name of binaries) {
        await moveDurably(join(outputDirectory, name), join(upload.entry, name));
        faultPoint('buildd.binary-moved');
      }
    }
    return await recordPair(options, upload, {
      architecture: build.architecture,
      platform: build.platform,
      status,
      binaries: status === 'ok' ? binaries : [],
      started,
      finished,
      logFile,
      ...(error === undefined ? {} : { error }),
    });
  } finally {
    await rm(work, { recursive: true, force: true });
    faultPoint('buildd.work-removed');
  }
}

/**
 * A claimed source package that cannot be unpacked or read as SPF 2.0 (accept
 * checks it, so this is a package that changed meaning, e.g. a stricter check):
 * one failed build per architecture of the queue, with the reason as its log.
 */
async function refuseUnbuildable(options: BuildClaimOptions, entry: string, error: FormatError): Promise<ClaimOutcome> {
  const { layout, claim, self } = options;
  const key = parseUploadKey(claim.key);
  await mkdir(entry, { recursive: true });
  const people = await readChangesPeople(layout, claim.key);
  const pairs: PairResult[] = [];
  for (const architecture of [...options.queue.architectures].sort()) {
    const now = new Date();
    const logFile = join(layout.tmp, `.tmp-build-${claim.key}-${architecture}@${self.host}@${self.pid}-unusable.log`);
    await writeFile(logFile, `opkfarm: the source package cannot be built: ${error.message}\n`);
    const result = await recordPair(
      options,
      { source: key?.source ?? claim.key, version: key?.version ?? '', people, entry },
      { architecture, platform: 'all', status: 'failed', binaries: [], started: now, finished: now, logFile, error: error.message },
    );
    pairs.push(result);
    options.onPair?.(result);
  }
  await finishClaim(layout, claim);
  return { state: 'built', pairs };
}

interface PairRecord {
  readonly architecture: string;
  readonly platform: string;
  readonly status: 'ok' | 'failed';
  readonly binaries: readonly string[];
  readonly started: Date;
  readonly finished: Date;
  /** The build log, moved into the entry. */
  readonly logFile: string;
  readonly error?: string;
}

/** Steps 2 (the log) to 4 (the result) of a pair whose binaries are in the entry already: the result is written last. */
async function recordPair(options: BuildClaimOptions, upload: Pick<Upload, 'source' | 'version' | 'people' | 'entry'>, pair: PairRecord): Promise<PairResult> {
  const { claim, self } = options;
  const pairName = `${pair.architecture}_${pair.platform}`;
  const durationSeconds = (pair.finished.getTime() - pair.started.getTime()) / 1000;
  const log = join(upload.entry, `${pairName}.log`);
  await ensureFile(pair.logFile);
  await moveDurably(pair.logFile, log);
  faultPoint('buildd.log-moved');
  await syncDirectory(upload.entry);

  // The mail before the result: a pair with a result is never built (nor mailed) again, so a kill
  // between the two must find it without a result, to be built and mailed once more (I9).
  if (options.mailer) {
    await options.mailer.send(
      await buildLogMessage(options.mailer.settings, {
        key: claim.key,
        source: upload.source,
        version: upload.version,
        maintainer: upload.people.maintainer,
        changedBy: upload.people.changedBy,
        architecture: pair.architecture,
        platform: pair.platform,
        succeeded: pair.status === 'ok',
        host: self.host,
        durationSeconds,
        logPath: log,
        storedLogPath: inArchive(options.layout, logPath(upload.source, claim.key, pairName, '.log')),
      }),
    );
    faultPoint('buildd.mailed');
  }

  const record = new Stanza([
    ['Status', pair.status],
    ['Architecture', pair.architecture],
    ['Platform', pair.platform],
    ['Host', self.host],
    ['Started', pair.started.toISOString()],
    ['Finished', pair.finished.toISOString()],
    ['Duration', durationSeconds.toFixed(3)],
    ['Binaries', pair.binaries.join(' ')],
  ]);
  if (pair.error !== undefined) record.set('Error', pair.error.replace(/\s+/g, ' ').trim());
  await writeContentAtomic(join(upload.entry, `${pairName}.result`), formatStanza(record));
  faultPoint('buildd.result-written');
  return {
    architecture: pair.architecture,
    platform: pair.platform,
    status: pair.status,
    binaries: pair.binaries,
    durationSeconds,
    ...(pair.error === undefined ? {} : { error: pair.error }),
  };
}

/** Free space under which a failed build is taken for the disk's failure: 64 MiB, or 5 % of a smaller filesystem. */
const NEARLY_FULL_BYTES = 64 * 1024 * 1024;
const NEARLY_FULL_SHARE = 0.05;

/** Why the filesystem holding `path` is too full for a failed build to count as the package's, or undefined. */
async function diskFullProblem(path: string): Promise<string | undefined> {
  const stats = await statfs(path);
  const free = stats.bavail * stats.bsize;
  if (free >= Math.min(NEARLY_FULL_BYTES, NEARLY_FULL_SHARE * stats.blocks * stats.bsize)) return undefined;
  return `while the filesystem of ${path} had ${free} bytes free (nearly full)`;
}

/** The source tree inside an unpacked source package: its one directory under usr/src/. */
async function sourceTree(unpacked: string, file: string): Promise<string> {
  const base = join(unpacked, 'usr', 'src');
  const names = await readdir(base).catch(() => [] as string[]);
  if (names.length !== 1) {
    throw new FormatError('source.malformed', file, `source package holds ${names.length} directories under usr/src/, expected one`);
  }
  return join(base, names[0] as string);
}

/** The Maintainer and Changed-By of a claimed upload, from its master .changes. */
async function readChangesPeople(layout: QueueLayout, key: string): Promise<People> {
  try {
    const changes = parseChanges(await readFile(layout.masterChanges(key), 'utf8'), layout.masterChanges(key));
    return { maintainer: changes.maintainer, changedBy: changes.changedBy };
  } catch {
    return {};
  }
}

/**
 * Why an output may not enter the archive-queue entry under its name, or
 * undefined: `<key>.opk` would stand in for the source package, the entry's
 * completion marker (I4), and a name that is not plain could hide or escape.
 */
function outputNameProblem(names: readonly string[], key: string): string | undefined {
  for (const name of names) {
    if (name === `${key}.opk`) return `the builder left ${name}, the name of the upload's source package in the archive queue, not of a binary package`;
    const problem = uploadFileNameProblem(name);
    if (problem !== undefined) return `the builder left an output whose ${problem}`;
  }
  return undefined;
}

/** The `*.opk` regular files of an output directory, sorted: a symlink a build left there is no package. */
async function packagesIn(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.opk'))
    .map((entry) => entry.name)
    .sort();
}

async function moveDurably(from: string, to: string): Promise<void> {
  const handle = await open(from, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(from, to);
}

async function ensureFile(path: string): Promise<void> {
  const handle = await open(path, 'a');
  await handle.close();
}
