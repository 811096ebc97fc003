/**
 * The incoming queue as a reviewer and the health check see it: every upload
 * in uploads/incoming/ with its state, size, uploader and age, and every
 * entry that is not part of a well-formed upload (queues-layout/README.md).
 *
 * Reading only: nothing here moves, follows, executes or links an uploaded
 * file. Entries are judged by lstat; a .changes is read only when it is a
 * regular file with one link, and checkUpload opens it with O_NOFOLLOW.
 *
 * Ages are taken from the change time (ctime), which an uploader cannot set,
 * unlike the modification time (sftp's `put -p`).
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { checkUpload, type UploadCheck } from '../formats/changes-upload.js';
import { uploadFileNameProblem } from '../formats/changes.js';
import { finalNameOfUploadTemp } from '../formats/upload-names.js';
import { versionForFileName } from '../formats/version.js';
import type { QueueLayout } from '../layout.js';
import { UploadError } from './errors.js';

/** An upload's state as a reviewer sees it: ready, still arriving (`incomplete` to checkUpload), or never acceptable. */
export type UploadState = 'complete' | 'waiting' | 'invalid';

export interface IncomingUpload {
  readonly changesPath: string;
  readonly check: UploadCheck;
  readonly state: UploadState;
  /** Source and version as the .changes claims them (untrusted when the check is invalid). */
  readonly source?: string;
  readonly version?: string;
  /** Changed-By, else Maintainer, as the .changes claims them (untrusted). */
  readonly uploader?: string;
  /** Bytes of the .changes and of every listed file present. */
  readonly size: number;
  /** Seconds since the upload last changed: its .changes or a listed file arriving. */
  readonly ageSeconds: number;
  /** Not complete, and unchanged for longer than Upload-Wait-Seconds. */
  readonly overdue: boolean;
}

/** What is wrong with an entry of incoming/ that is not part of a well-formed upload. */
export type IncomingFileKind =
  | 'symlink'
  | 'hard-link'
  | 'directory'
  | 'special'
  | 'bad-name'
  | 'stray'
  | 'partial';

export interface IncomingFile {
  /** The entry's name in incoming/ (untrusted: print it with displayName). */
  readonly name: string;
  readonly kind: IncomingFileKind;
  /** One line: what the entry is and why it is reported. */
  readonly reason: string;
  readonly size: number;
  readonly ageSeconds: number;
}

export interface IncomingReport {
  /** Every upload (a regular, singly linked, plainly named .changes), by .changes name. */
  readonly uploads: IncomingUpload[];
  /**
   * Entries to move to rejected/: links, special files, bad names at once;
   * files no .changes lists and partial files once older than the wait.
   */
  readonly problems: IncomingFile[];
  /** Files still arriving: partial files and files no .changes lists yet, younger than the wait. */
  readonly arriving: IncomingFile[];
}

export interface ScanOptions {
  /** Upload-Wait-Seconds. */
  readonly waitSeconds: number;
  /** Milliseconds since the epoch; the present by default (tests pass their own). */
  readonly now?: number;
}

interface Entry {
  readonly name: string;
  readonly stats: Stats;
}

/** Reads uploads/incoming/ and sorts every entry into uploads, problems and files still arriving. */
export async function scanIncoming(layout: QueueLayout, options: ScanOptions): Promise<IncomingReport> {
  const now = options.now ?? Date.now();
  // Seconds, fractions kept: a file of 1.5 s is past a wait of 1 s.
  const ageOf = (stats: Stats) => Math.max(0, (now - stats.ctimeMs) / 1000);
  const entries = await readEntries(layout.incoming);

  const uploads: IncomingUpload[] = [];
  const problems: IncomingFile[] = [];
  const arriving: IncomingFile[] = [];
  const plainFiles = new Map<string, Stats>();
  for (const { name, stats } of entries) {
    const problem = await entryProblem(layout.incoming, name, stats);
    const file = (kind: IncomingFileKind, reason: string): IncomingFile => ({ name, kind, reason, size: stats.size, ageSeconds: Math.floor(ageOf(stats)) });
    const finalName = finalNameOfUploadTemp(name);
    if (problem !== undefined) problems.push(file(problem.kind, problem.reason));
    else if (finalName === undefined) plainFiles.set(name, stats);
    else if (ageOf(stats) <= options.waitSeconds) arriving.push(file('partial', `partial file of ${finalName}, still being sent`));
    else problems.push(file('partial', `partial file of ${finalName}, left unfinished`));
  }

  const listed = new Set<string>();
  for (const [name, stats] of plainFiles) {
    if (!name.endsWith('.changes')) continue;
    const upload = await readUpload(layout.incoming, name, stats, plainFiles, ageOf, options.waitSeconds);
    if (upload === undefined) continue;
    uploads.push(upload);
    for (const file of listedFiles(upload.check)) listed.add(file);
  }

  for (const [name, stats] of plainFiles) {
    if (name.endsWith('.changes') || listed.has(name)) continue;
    const age = ageOf(stats);
    if (age <= options.waitSeconds) {
      arriving.push({ name, kind: 'stray', reason: 'no .changes lists it (yet)', size: stats.size, ageSeconds: Math.floor(age) });
    } else {
      problems.push({ name, kind: 'stray', reason: 'no .changes lists it', size: stats.size, ageSeconds: Math.floor(age) });
    }
  }
  return { uploads, problems, arriving };
}

/** Every upload in incoming/, by .changes file name. */
export async function listIncoming(layout: QueueLayout): Promise<IncomingUpload[]> {
  return (await scanIncoming(layout, { waitSeconds: Number.POSITIVE_INFINITY })).uploads;
}

/** The one upload in incoming/ for `source` and `version` (with or without epoch). */
export async function findIncoming(layout: QueueLayout, source: string, version: string): Promise<IncomingUpload> {
  const wanted = versionForFileName(version);
  const matches = (await listIncoming(layout)).filter(
    (upload) =>
      upload.source === source && upload.version !== undefined && (upload.version === version || versionForFileName(upload.version) === wanted),
  );
  if (matches.length === 0) throw new UploadError('upload.not-found', `${source} ${version}`, 'no such upload in incoming/');
  if (matches.length > 1) {
    throw new UploadError(
      'upload.ambiguous',
      `${source} ${version}`,
      `several uploads match: ${matches.map((upload) => upload.changesPath).join(', ')}`,
    );
  }
  return matches[0] as IncomingUpload;
}

/** The upload whose .changes is, or lists, the entry `name`. */
export function uploadOwning(uploads: readonly IncomingUpload[], name: string): IncomingUpload | undefined {
  return uploads.find((upload) => basename(upload.changesPath) === name || listedFiles(upload.check).includes(name));
}

/** A file name fit for a one-line report: quoted when it holds anything but visible ASCII. */
export function displayName(name: string): string {
  return /^[\x21-\x7e]+$/.test(name) ? name : JSON.stringify(name);
}

/** The entries of incoming/, sorted by name, each with its lstat; entries gone meanwhile are left out. */
async function readEntries(directory: string): Promise<Entry[]> {
  const names = await readdir(directory).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new EnvironmentError(
      `${directory} does not exist: run opkfarm init --root on the queue root (a root made before uploads/ existed has incoming/ at its top: move its files)`,
      { cause: error },
    );
  });
  const entries: Entry[] = [];
  for (const name of names.sort()) {
    try {
      entries.push({ name, stats: await lstat(join(directory, name)) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new EnvironmentError(`${join(directory, name)}: cannot inspect: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  return entries;
}

/** Why an entry can be no part of an upload, whatever its name: its type, its links, or its name itself. */
async function entryProblem(directory: string, name: string, stats: Stats): Promise<{ kind: IncomingFileKind; reason: string } | undefined> {
  if (stats.isSymbolicLink()) {
    const target = await readlink(join(directory, name)).catch(() => '?');
    return { kind: 'symlink', reason: `symbolic link to ${JSON.stringify(target)}: never followed` };
  }
  if (stats.isDirectory()) return { kind: 'directory', reason: 'directory: uploads are plain files' };
  if (stats.isFIFO()) return { kind: 'special', reason: 'FIFO: uploads are plain files' };
  if (stats.isSocket()) return { kind: 'special', reason: 'socket: uploads are plain files' };
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return { kind: 'special', reason: 'device: uploads are plain files' };
  if (!stats.isFile()) return { kind: 'special', reason: 'not a regular file' };
  if (stats.nlink !== 1) {
    return { kind: 'hard-link', reason: `hard link (${stats.nlink} names for one file, the others outside incoming/): never read or linked` };
  }
  if (finalNameOfUploadTemp(name) === undefined && uploadFileNameProblem(name) !== undefined) {
    return { kind: 'bad-name', reason: 'not a plain file name ([A-Za-z0-9][A-Za-z0-9+._~-]*, without "..")' };
  }
  return undefined;
}

async function readUpload(
  directory: string,
  name: string,
  stats: Stats,
  plainFiles: ReadonlyMap<string, Stats>,
  ageOf: (stats: Stats) => number,
  waitSeconds: number,
): Promise<IncomingUpload | undefined> {
  const changesPath = join(directory, name);
  let check: UploadCheck;
  try {
    check = await checkUpload(changesPath);
  } catch (error) {
    // Accepted, rejected or withdrawn while we looked: it is no longer here.
    if (error instanceof EnvironmentError && !(await lstat(changesPath).catch(() => undefined))) return undefined;
    throw error;
  }
  const stanza = check.state === 'invalid' ? check.stanza : check.changes.stanza;
  const present = listedFiles(check)
    .map((file) => plainFiles.get(file))
    .filter((file) => file !== undefined);
  const ageSeconds = Math.min(ageOf(stats), ...present.map(ageOf));
  const state: UploadState = check.state === 'incomplete' ? 'waiting' : check.state;
  const uploader = stanza?.get('Changed-By') ?? stanza?.get('Maintainer');
  return {
    changesPath,
    check,
    state,
    source: stanza?.get('Source'),
    version: stanza?.get('Version'),
    ...(uploader === undefined ? {} : { uploader }),
    size: stats.size + present.reduce((sum, file) => sum + file.size, 0),
    ageSeconds: Math.floor(ageSeconds),
    overdue: state !== 'complete' && ageSeconds > waitSeconds,
  };
}

/** The plain file names an upload's .changes lists, valid or not. */
function listedFiles(check: UploadCheck): string[] {
  return check.state === 'invalid' ? check.listed : check.changes.files.map((file) => file.name);
}
