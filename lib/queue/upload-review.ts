/**
 * What `buildq show` puts before a reviewer: each listed file with its size
 * and hash status, and, once the upload is complete, what its source package
 * contains (source control, change log entry, binary packages) and which
 * builds each build queue will make of it.
 *
 * The source package is read through a descriptor opened with O_NOFOLLOW
 * and checked to be a regular file with one link, never by path. What this
 * reports is for reading: accept checks its own copy again.
 */
import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describeError, FormatError } from '../errors.js';
import { sourcePackageFileName } from '../formats/changes.js';
import { otherDistributionProblem } from '../archive/source-pool.js';
import type { QueueLayout } from '../layout.js';
import { versionForFileName } from '../formats/version.js';
import { planBuilds, type PlannedBuild } from '../build/select.js';
import { readSourcePackageSpec } from '../source/package-spec.js';
import type { SourceDirectory } from '../source/spf.js';
import { routeChanges, type Routing } from './accept.js';
import { UploadError } from './errors.js';
import type { IncomingUpload } from './incoming.js';

export interface ReviewedFile {
  readonly name: string;
  /** Size the .changes lists; undefined when the .changes could not say. */
  readonly listedSize?: number;
  /** Size in incoming/ now; undefined when absent. */
  readonly size?: number;
  /** `ok` (size and hashes match), `waiting` (absent or shorter) or what is wrong. */
  readonly status: string;
}

export interface QueueBuilds {
  readonly queue: string;
  readonly builds: readonly PlannedBuild[];
}

export interface UploadReview {
  readonly files: readonly ReviewedFile[];
  /** The source package's metadata, when the upload is complete and it could be read. */
  readonly source?: SourceDirectory;
  /** The build queues and their builds, when the upload is complete and routable. */
  readonly queues?: readonly QueueBuilds[];
  /** Why the source package or the routing could not be shown, one line each. */
  readonly problems: readonly string[];
  /** Why accept would refuse the upload though it is complete and routable, when it would. */
  readonly refusal?: string;
}

/** Reviews an upload found by scanIncoming or findIncoming, against the farm's archive in `layout`. */
export async function reviewUpload(upload: IncomingUpload, routing: Routing, layout: QueueLayout): Promise<UploadReview> {
  const files = await reviewFiles(upload);
  const { check } = upload;
  if (check.state !== 'complete') return { files, problems: [] };

  const { changes } = check;
  const problems: string[] = [];
  let source: SourceDirectory | undefined;
  const name = sourcePackageFileName(changes.source, changes.version);
  const tree = `usr/src/${changes.source}_${versionForFileName(changes.version)}`;
  try {
    source = await readSourcePackageSpec(name, await openSinglyLinked(join(directoryOf(upload), name)), tree);
  } catch (error) {
    if (!(error instanceof FormatError || error instanceof UploadError)) throw error;
    problems.push(describeError(error));
  }

  let queues: QueueBuilds[] | undefined;
  try {
    const names = routeChanges(changes, routing, name);
    queues = names.map((queue) => {
      const config = routing.queues.find((candidate) => candidate.name === queue);
      return { queue, builds: source && config ? planBuilds(source.binaryPackages, config.architectures, config.platforms) : [] };
    });
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    problems.push(describeError(error));
  }
  const refusal = await acceptRefusal(layout, upload);
  return { files, ...(source ? { source } : {}), ...(queues ? { queues } : {}), problems, ...(refusal === undefined ? {} : { refusal }) };
}

/** Why accept would refuse each complete upload of `uploads` that it would refuse (UploadReview.refusal). */
export async function acceptRefusals(layout: QueueLayout, uploads: readonly IncomingUpload[]): Promise<Map<IncomingUpload, string>> {
  const refusals = new Map<IncomingUpload, string>();
  for (const upload of uploads) {
    const refusal = await acceptRefusal(layout, upload);
    if (refusal !== undefined) refusals.set(upload, refusal);
  }
  return refusals;
}

/** Why accept would refuse a complete upload though it is valid (a version in another distribution), or undefined. */
async function acceptRefusal(layout: QueueLayout, upload: IncomingUpload): Promise<string | undefined> {
  if (upload.check.state !== 'complete') return undefined;
  const { source, version, distribution } = upload.check.changes;
  return otherDistributionProblem(layout, source, version, distribution);
}

async function reviewFiles(upload: IncomingUpload): Promise<ReviewedFile[]> {
  const { check } = upload;
  const listed =
    check.state === 'invalid'
      ? (check.changes?.files ?? check.listed.map((name) => ({ name, size: undefined })))
      : check.changes.files;
  const reviewed: ReviewedFile[] = [];
  for (const file of listed) {
    const stats = await lstat(join(directoryOf(upload), file.name)).catch(() => undefined);
    const reason = check.state === 'invalid' ? check.reasons.find((line) => line.startsWith(`${file.name}: `)) : undefined;
    const waiting = check.state === 'incomplete' && check.waitingFor.includes(file.name);
    reviewed.push({
      name: file.name,
      ...(file.size === undefined ? {} : { listedSize: file.size }),
      ...(stats === undefined ? {} : { size: stats.size }),
      status: reason !== undefined ? reason.slice(file.name.length + 2) : waiting ? 'waiting' : 'ok',
    });
  }
  return reviewed;
}

/** Opens an uploaded file without following a link, and only if it is a regular file with one link. */
async function openSinglyLinked(path: string): Promise<FileHandle> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT') throw new UploadError('upload.changed', path, 'has been replaced or removed since it was checked');
    throw error;
  });
  const stats = await handle.stat();
  if (!stats.isFile() || stats.nlink !== 1) {
    await handle.close();
    throw new UploadError('upload.changed', path, 'is no longer a regular file with one link');
  }
  return handle;
}

function directoryOf(upload: IncomingUpload): string {
  return dirname(upload.changesPath);
}
