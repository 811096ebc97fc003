/**
 * Whether an upload in `incoming/` is complete, still arriving, or invalid
 * (FORMATS.md: "An upload is complete only when every listed file is present
 * with the listed size and hash; until then it is waiting, not rejected").
 *
 * Reads the .changes and the files it lists, which are looked up in the same
 * directory; writes nothing. Everything there is untrusted, so:
 * - nothing is followed: the .changes and every listed file must be a regular
 *   file with one link (a symlink or a hard link planted by an uploader could
 *   make the farm read, or later move, a file that is not theirs), checked
 *   with lstat and again with fstat on a descriptor opened with O_NOFOLLOW, so
 *   a file swapped for a symlink after lstat is not followed either;
 * - a missing file, or one shorter than listed, is still arriving (SFTP writes
 *   in place) and is not hashed; a longer one, or one of the listed size with
 *   another hash, can never become right and makes the upload invalid;
 * - an invalid upload lists every reason at once, parse problems and file
 *   problems together, each on one line naming the file.
 *
 * The caller must know the .changes itself is complete (uploaders send it
 * last); a half-written one reads as invalid.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { digestHandle } from '../fs/hash.js';
import { inspectChanges, type Changes, type ChangesFile } from './changes.js';
import type { Stanza } from './control.js';

/** What an upload in `incoming/` is now: ready to accept, still arriving, or to be rejected. */
export type UploadCheck =
  | { readonly state: 'complete'; readonly changes: Changes }
  | {
      readonly state: 'incomplete';
      readonly changes: Changes;
      /** Every listed file that is missing or still shorter than listed, by name. */
      readonly waitingFor: string[];
    }
  | {
      readonly state: 'invalid';
      /** Every reason, one line each, naming the file. */
      readonly reasons: string[];
      /** The upload, when the .changes itself is valid. */
      readonly changes?: Changes;
      /** The .changes fields when its syntax parsed (untrusted), e.g. to address the rejection. */
      readonly stanza?: Stanza;
      /** The names on the well-formed lines of its file lists (plain names only), e.g. to reject those files along. */
      readonly listed: string[];
    };

/** Larger than any honest .changes; refusing more keeps a hostile upload from filling memory. */
const CHANGES_MAX_BYTES = 1024 * 1024;

const OPEN_FLAGS =
  constants.O_RDONLY |
  constants.O_NOFOLLOW |
  // A FIFO swapped in after lstat would otherwise block the open forever.
  constants.O_NONBLOCK;

/** Checks the upload a .changes describes against the files beside it. */
export async function checkUpload(changesPath: string): Promise<UploadCheck> {
  const changesName = displayName(basename(changesPath));
  const read = await readChanges(changesPath, changesName);
  if (typeof read !== 'string') return { state: 'invalid', reasons: [read.reason], listed: [] };

  const inspection = inspectChanges(read, changesName);
  const reasons = [...inspection.problems];
  const waitingFor: string[] = [];
  const directory = dirname(changesPath);
  for (const file of inspection.files) {
    const result = await checkFile(join(directory, file.name), file);
    if (result === 'waiting') waitingFor.push(file.name);
    else if (result !== 'ok') reasons.push(`${file.name}: ${result}`);
  }

  const { changes, stanza } = inspection;
  if (reasons.length > 0 || !changes) {
    const listed = inspection.files.map((file) => file.name);
    return { state: 'invalid', reasons, listed, ...(changes ? { changes } : {}), ...(stanza ? { stanza } : {}) };
  }
  if (waitingFor.length > 0) return { state: 'incomplete', changes, waitingFor };
  return { state: 'complete', changes };
}

/** The .changes text, or why it cannot be read as one. */
async function readChanges(path: string, name: string): Promise<string | { reason: string }> {
  const handle = await openUntrusted(path);
  if (typeof handle === 'string') {
    if (handle === 'missing') throw new EnvironmentError(`${path}: the .changes file has gone`);
    return { reason: `${name}: ${handle}` };
  }
  try {
    const stats = await handle.stat();
    const problem = typeProblem(stats);
    if (problem !== undefined) return { reason: `${name}: ${problem}` };
    // Sized by the file, not the limit: a 1 MiB buffer for every read made the garbage collector run far more often.
    let buffer = Buffer.allocUnsafe(Math.min(stats.size, CHANGES_MAX_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > CHANGES_MAX_BYTES) break;
        // It grew since the stat: read on, up to the limit.
        const larger = Buffer.allocUnsafe(CHANGES_MAX_BYTES + 1);
        buffer.copy(larger);
        buffer = larger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > CHANGES_MAX_BYTES) return { reason: `${name}: larger than ${CHANGES_MAX_BYTES} bytes` };
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** 'ok', 'waiting', or what is wrong with one listed file. */
async function checkFile(path: string, listed: ChangesFile): Promise<string> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'waiting';
    throw environment(path, error);
  }
  const early = sizeVerdict(stats, listed);
  if (early !== undefined) return early;

  const handle = await openUntrusted(path);
  if (handle === 'missing') return 'waiting';
  if (typeof handle === 'string') return handle;
  try {
    // What was opened may not be what lstat saw: judge the descriptor itself.
    const verdict = sizeVerdict(await handle.stat(), listed);
    if (verdict !== undefined) return verdict;
    const digests = await digestHandle(handle, listed.size);
    if (digests.size < listed.size) return 'waiting';
    if (digests.size > listed.size) return `grew beyond the listed ${listed.size} bytes while being read`;
    if (digests.sha256 !== listed.sha256) return `SHA-256 is ${digests.sha256}, .changes lists ${listed.sha256}`;
    if (listed.md5 !== undefined && digests.md5 !== listed.md5) return `MD5 is ${digests.md5}, .changes lists ${listed.md5}`;
    return 'ok';
  } finally {
    await handle.close();
  }
}

/** 'waiting' or a problem when type, links or size settle the matter before hashing; undefined when it is time to hash. */
function sizeVerdict(stats: Stats, listed: ChangesFile): string | undefined {
  const problem = typeProblem(stats);
  if (problem !== undefined) return problem;
  if (stats.size < listed.size) return 'waiting';
  if (stats.size > listed.size) return `size is ${stats.size} bytes, .changes lists ${listed.size}`;
  return undefined;
}

/** Why a file is not a plain uploaded file: not regular, or linked elsewhere. */
function typeProblem(stats: Stats): string | undefined {
  if (stats.isSymbolicLink()) return 'is a symbolic link, not a regular file';
  if (stats.isDirectory()) return 'is a directory, not a regular file';
  if (stats.isFIFO()) return 'is a FIFO, not a regular file';
  if (stats.isSocket()) return 'is a socket, not a regular file';
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'is a device, not a regular file';
  if (!stats.isFile()) return 'is not a regular file';
  if (stats.nlink !== 1) return `has ${stats.nlink} hard links; an uploaded file must have exactly one`;
  return undefined;
}

/** Opens without following a symlink; 'missing', or a problem, when that fails for a reason of the upload's own. */
async function openUntrusted(path: string): Promise<FileHandle | string> {
  try {
    return await open(path, OPEN_FLAGS);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'missing';
    if (isCode(error, 'ELOOP')) return 'is a symbolic link, not a regular file';
    // An uploader's file the farm may not read is the upload's problem, not a reason to stop listing the others.
    if (isCode(error, 'EACCES') || isCode(error, 'EPERM')) return 'cannot be read by the farm (permission denied): upload it readable by all';
    throw environment(path, error);
  }
}

/** A file name fit for a one-line reason: quoted when it holds anything unusual. */
function displayName(name: string): string {
  return /^[\x21-\x7e]+$/.test(name) ? name : JSON.stringify(name);
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function environment(path: string, error: unknown): EnvironmentError {
  return new EnvironmentError(`${path}: cannot check uploaded file: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}
