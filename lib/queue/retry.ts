/**
 * `buildq retry`: gives failed builds of an included upload back to their
 * build queues, as a new upload of the same version.
 *
 * archived keeps each included upload's .changes and build results under
 * archive/logs/<source>/ and its source package in the pool. A retry finds
 * the pairs (architecture, platform) whose newest result failed, stages the
 * source package and a .changes naming only those architectures in a
 * private temporary directory, and accepts that like any upload (accept.ts:
 * a new key, farm-owned copies, the same crash recovery). The retry builds
 * into the archive beside the failed build's record, which stays; a rebuilt
 * package that differs from one in the pool becomes its next build.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { formatChanges, parseChanges, sourcePackageFileName, type Changes } from '../formats/changes.js';
import { parseSingleStanza } from '../formats/control.js';
import { versionForFileName } from '../formats/version.js';
import { TEMP_PREFIX } from '../fs/atomic.js';
import { digestFile } from '../fs/hash.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { changesRecordPath, inArchive, logDirectory, parsePoolFileName, poolHash, poolNameHasVersion } from '../archive/paths.js';
import { acceptUpload, type AcceptedUpload, type AcceptNotifier, type Routing } from './accept.js';
import { UploadError } from './errors.js';

export interface RetryRequest {
  readonly source: string;
  /** The version, epoch allowed. */
  readonly version: string;
  /** Only the failed builds of this architecture (and platform); all failed ones when absent. */
  readonly architecture?: string;
  readonly platform?: string;
  readonly remarks: string;
}

/** A failed build found in the stored results. */
export interface FailedPair {
  readonly key: string;
  readonly architecture: string;
  readonly platform: string;
  readonly error?: string;
}

export interface RetriedUpload extends AcceptedUpload {
  /** The failed builds given back. */
  readonly retried: readonly FailedPair[];
}

/** Accepts the failed builds of an included upload again; throws UploadError when there is nothing to retry. */
export async function retryFailedBuilds(layout: QueueLayout, routing: Routing, request: RetryRequest, notify?: AcceptNotifier): Promise<RetriedUpload> {
  const subject = `${request.source} ${request.version}`;
  const failed = (await newestResults(layout, request.source, versionForFileName(request.version))).filter(
    (pair) =>
      pair.status === 'failed' &&
      (request.architecture === undefined || pair.architecture === request.architecture) &&
      (request.platform === undefined || pair.platform === request.platform),
  );
  if (failed.length === 0) {
    const which = request.architecture === undefined ? '' : ` for ${request.architecture}${request.platform === undefined ? '' : `/${request.platform}`}`;
    throw new UploadError('upload.nothing-to-retry', subject, `no failed build${which} whose newest result is a failure (see archive/logs/${request.source}/)`);
  }
  const key = (failed[failed.length - 1] as FailedPair).key;
  const changesPath = inArchive(layout, changesRecordPath(request.source, key));
  const changes = await readStoredChanges(changesPath);
  const sourceName = sourcePackageFileName(changes.source, changes.version);
  const listed = changes.files.find((file) => file.name === sourceName);
  if (listed === undefined) throw new UploadError('upload.invalid', changesPath, `does not list the source package ${sourceName}`);
  const sourcePackage = await poolSourcePackage(layout, changes, listed.sha256);

  const staging = await mkdtemp(join(layout.tmp, `${TEMP_PREFIX}retry-${request.source}-`));
  try {
    const architectures = [...new Set(failed.map((pair) => pair.architecture))].sort();
    const platforms = [...new Set(failed.map((pair) => pair.platform))].sort();
    await writeFile(join(staging, sourceName), await readFile(sourcePackage));
    const retryChanges = formatChanges({
      ...changes,
      date: new Date().toUTCString().replace('GMT', '+0000'),
      architectures,
      platforms,
    });
    const stagedChanges = join(staging, `${request.source}_${versionForFileName(changes.version)}.changes`);
    await writeFile(stagedChanges, retryChanges);
    const accepted = await acceptUpload(layout, routing, stagedChanges, request.remarks, notify);
    return { ...accepted, retried: failed.map(({ key: failedKey, architecture, platform, error }) => ({ key: failedKey, architecture, platform, ...(error === undefined ? {} : { error }) })) };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

interface StoredResult extends FailedPair {
  readonly status: string;
}

/** For each architecture/platform pair built for this source version, its newest stored result. */
async function newestResults(layout: QueueLayout, source: string, version: string): Promise<StoredResult[]> {
  const directory = inArchive(layout, logDirectory(source));
  const newest = new Map<string, StoredResult>();
  const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const name of names.sort()) {
    const match = /^(\d+_[^_]+_[^_]+)_([^_]+)_([^_]+)\.result$/.exec(name);
    const key = match?.[1];
    if (match === null || key === undefined || parseUploadKey(key)?.version !== version) continue;
    const file = join(directory, name);
    const stanza = parseSingleStanza(await readFile(file, 'utf8'), { file });
    const result: StoredResult = {
      key,
      architecture: match[2] as string,
      platform: match[3] as string,
      status: stanza.get('Status') ?? '',
      ...(stanza.get('Error') === undefined ? {} : { error: stanza.get('Error') }),
    };
    // Names sort by key, so a later key (a later upload or retry) replaces an earlier result.
    newest.set(`${result.architecture}_${result.platform}`, result);
  }
  return [...newest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function readStoredChanges(path: string): Promise<Changes> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new UploadError('upload.nothing-to-retry', path, 'missing: archived keeps the .changes of every upload it includes (uploads included before it did cannot be retried)');
  }
  try {
    return parseChanges(text, path);
  } catch (error) {
    if (error instanceof FormatError) throw new UploadError('upload.invalid', path, error.message);
    throw error;
  }
}

/** The pool file holding the upload's source package: the build of `src-<source>` with the listed SHA-256. */
async function poolSourcePackage(layout: QueueLayout, changes: Changes, sha256: string): Promise<string> {
  const directory = inArchive(layout, `pool/${poolHash(changes.source)}/${changes.source}`);
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    const parsed = parsePoolFileName(name);
    if (parsed?.package !== `src-${changes.source}` || !poolNameHasVersion(parsed, changes.version)) continue;
    if ((await digestFile(join(directory, name))).sha256 === sha256) return join(directory, name);
  }
  throw new UploadError('upload.nothing-to-retry', directory, `no source package src-${changes.source} ${changes.version} with the uploaded SHA-256 in the pool (collected?)`);
}
