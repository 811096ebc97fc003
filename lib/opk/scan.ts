/**
 * scanOpk: what the archive needs of a package in one read of it: its
 * control fields, its size, SHA-256 and MD5, and, when asked, the start of
 * one file of its data (a source package's change log).
 *
 * Every check readOpk makes is made (members.ts, safety.ts on every data
 * entry), with the same errors, and the control file is parsed alike; but a
 * caller may leave a small package's data archive alone (checkData). How the
 * bytes are read depends on the package:
 * - one of at most SMALL_PACKAGE bytes whose archives are tar or gzip (what
 *   writeOpk makes) is read with one synchronous read into a buffer reused
 *   between calls and taken apart in memory. For a few KiB, readOpk's streams
 *   and decompressor objects cost ten times the work itself (1 ms against
 *   0.1 ms), and reindex reads tens of thousands of packages. The read blocks
 *   the event loop for one small file at a time: callers that scan many
 *   should yield between packages now and then.
 * - anything else (larger, an ar outer archive, xz, bzip2 or zstd members,
 *   or an archive that inflates past MAX_IN_MEMORY_ARCHIVE) streams through
 *   readOpk, digested as it is read.
 * Memory is bounded either way: at most SMALL_PACKAGE bytes of package and
 * MAX_IN_MEMORY_ARCHIVE bytes per inflated archive are held at once.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';

import { EnvironmentError, FormatError } from '../errors.js';
import type { Stanza } from '../formats/control.js';
import { Digester, digestBytes, type FileDigests } from '../fs/hash.js';
import { detectCompression, gzipError, MAGIC_LENGTH, type DecompressContext } from './compression.js';
import { MAX_CONTROL_ARCHIVE_SIZE } from './limits.js';
import {
  checkDebianBinary,
  ControlEntries,
  controlStanzaOf,
  debianBinaryTooLarge,
  detectOuterFormat,
  isRootDirectory,
  isTar,
  MAX_DEBIAN_BINARY_SIZE,
  MemberSet,
  notAFileMember,
  notTarInsideGzip,
  OUTER_HEAD_LENGTH,
} from './members.js';
import { readOpk } from './read.js';
import { EntryChecker } from './safety.js';
import { tarEntriesOf } from './tar-buffer.js';

/** Packages up to this size are read whole and taken apart in memory. */
export const SMALL_PACKAGE = 1024 * 1024;
/** An archive inflated in memory may be this large; a larger one is streamed instead. */
export const MAX_IN_MEMORY_ARCHIVE = 16 * 1024 * 1024;
/** How much of the data file asked for is returned. */
export const MAX_DATA_FILE_HEAD = 1024 * 1024;

export interface ScanOptions {
  /** A file of the data archive to return the start of, as readOpk normalises paths (`usr/src/x_1.0/changelog`). */
  readonly dataFile?: string;
  /**
   * false: a small package's data archive (when no dataFile is asked for) is
   * not inflated, so not checked: for packages checked before (the pool's,
   * at inclusion) whose control and digests are all that is wanted. It is a
   * third of the work for a small package. Default true.
   */
  readonly checkData?: boolean;
}

export interface ScannedOpk {
  readonly control: Stanza;
  readonly digests: FileDigests;
  /** The first MAX_DATA_FILE_HEAD bytes of the data file asked for; undefined when the package has no such regular file. */
  readonly dataFile: Buffer | undefined;
}

/** Reads and checks the opk at `path` once; see the file comment. */
export async function scanOpk(path: string, options: ScanOptions = {}): Promise<ScannedOpk> {
  const bytes = readSmallFile(path);
  const skipData = options.checkData === false && options.dataFile === undefined;
  const scanned = bytes === undefined ? undefined : scanInMemory(bytes, path, options.dataFile, skipData);
  return scanned ?? (await scanStreaming(path, options.dataFile));
}

let shared: Buffer | undefined;

/**
 * The whole file, in the shared buffer (valid until the next call), or
 * undefined when it is larger than SMALL_PACKAGE. Read without a stat: the
 * buffer has room for one byte more, and a read that fills it says "larger".
 */
function readSmallFile(path: string): Buffer | undefined {
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch (error) {
    throw new EnvironmentError(`${path}: cannot read: ${(error as Error).message}`, { cause: error });
  }
  try {
    shared ??= Buffer.allocUnsafe(SMALL_PACKAGE + 1);
    let size = 0;
    while (size < shared.length) {
      const read = readSync(descriptor, shared, size, shared.length - size, size);
      if (read === 0) break;
      size += read;
    }
    return size > SMALL_PACKAGE ? undefined : shared.subarray(0, size);
  } catch (error) {
    throw new EnvironmentError(`${path}: cannot read: ${(error as Error).message}`, { cause: error });
  } finally {
    closeSync(descriptor);
  }
}

/** Scans a package held in memory; undefined when it needs the streaming reader. */
function scanInMemory(bytes: Buffer, file: string, dataFile: string | undefined, skipData: boolean): ScannedOpk | undefined {
  const digests = digestBytes(bytes);
  const format = detectOuterFormat(bytes.subarray(0, OUTER_HEAD_LENGTH), file);
  if (format === 'ar') return undefined;
  let outer = bytes;
  if (format === 'tar.gz') {
    const inflated = inflate(bytes, { file, member: 'outer archive' }, MAX_IN_MEMORY_ARCHIVE);
    if (inflated === undefined) return undefined;
    if (inflated.length >= OUTER_HEAD_LENGTH && !isTar(inflated.subarray(0, OUTER_HEAD_LENGTH))) throw notTarInsideGzip(file);
    outer = inflated;
  }
  const members = new MemberSet(file);
  let control: Stanza | undefined;
  let wanted: Buffer | undefined;
  for (const entry of tarEntriesOf(outer, { file, member: 'outer archive' })) {
    if (isRootDirectory(entry.path, entry.type)) continue;
    if (entry.type !== 'file') throw notAFileMember(file, entry.path, entry.type);
    const { kind, name } = members.classify(entry.path);
    if (kind === 'debian-binary') {
      if (entry.data.length > MAX_DEBIAN_BINARY_SIZE) throw debianBinaryTooLarge(file);
      checkDebianBinary(entry.data, file);
    } else if (kind === 'control') {
      control = controlInMemory(entry.data, name, file);
      if (control === undefined) return undefined;
    } else if (!skipData) {
      const data = dataInMemory(entry.data, name, file, dataFile);
      if (data === 'stream') return undefined;
      wanted = data;
    }
  }
  members.finish();
  if (control === undefined) throw new Error('scanOpk: MemberSet.finish let a package without control through');
  return { control, digests, dataFile: wanted };
}

/** The control fields; undefined when the member's compression needs a tool (streamed instead). */
function controlInMemory(member: Buffer, name: string, file: string): Stanza | undefined {
  const context = { file, member: name };
  const tooLarge = (): FormatError =>
    new FormatError('opk.too-large', file, `${name}: larger than ${MAX_CONTROL_ARCHIVE_SIZE} bytes once decompressed`);
  const compression = detectCompression(member.subarray(0, MAGIC_LENGTH));
  let archive: Buffer;
  if (compression === 'gzip') archive = inflate(member, context, MAX_CONTROL_ARCHIVE_SIZE) ?? throwError(tooLarge());
  else if (compression === 'none') archive = member.length > MAX_CONTROL_ARCHIVE_SIZE ? throwError(tooLarge()) : member;
  else return undefined;
  const checker = new EntryChecker(context);
  const entries = new ControlEntries(file, name);
  let content: Buffer | undefined;
  for (const entry of tarEntriesOf(archive, context)) {
    const checked = checker.check(entry);
    if (entries.accept({ ...checked, size: entry.size }, entry.path) && checked.path === 'control') content = entry.data;
  }
  return controlStanzaOf(content, name, file);
}

/** Checks every data entry; returns the start of `dataFile` (undefined when absent), or 'stream' when it cannot be done in memory. */
function dataInMemory(member: Buffer, name: string, file: string, dataFile: string | undefined): Buffer | undefined | 'stream' {
  const context = { file, member: name };
  const compression = detectCompression(member.subarray(0, MAGIC_LENGTH));
  let archive: Buffer | undefined;
  if (compression === 'gzip') archive = inflate(member, context, MAX_IN_MEMORY_ARCHIVE);
  else if (compression === 'none') archive = member;
  if (archive === undefined) return 'stream';
  const checker = new EntryChecker(context);
  let wanted: Buffer | undefined;
  for (const entry of tarEntriesOf(archive, context)) {
    const checked = checker.check(entry);
    // A copy, so that the inflated archive can go.
    if (checked.path === dataFile && checked.type === 'file') wanted = Buffer.from(entry.data.subarray(0, MAX_DATA_FILE_HEAD));
  }
  checker.finish();
  return wanted;
}

/** gunzip in memory; undefined when the result would be larger than `max` bytes. */
function inflate(compressed: Buffer, context: DecompressContext, max: number): Buffer | undefined {
  try {
    return gunzipSync(compressed, { maxOutputLength: max });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    throw gzipError(error, context);
  }
}

/** readOpk, digesting the bytes as it reads them. */
async function scanStreaming(path: string, dataFile: string | undefined): Promise<ScannedOpk> {
  const digester = new Digester();
  let wanted: Buffer | undefined;
  const { control } = await readOpk(path, {
    onInput: (chunk) => digester.update(chunk),
    onDataEntry: async (entry) => {
      if (entry.path === dataFile && entry.type === 'file') wanted = await readHead(entry.body, MAX_DATA_FILE_HEAD);
    },
  });
  return { control, digests: digester.digests(), dataFile: wanted };
}

/** Up to `max` bytes from the start of a stream; the rest is left unread. */
async function readHead(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk.subarray(0, max - total));
    total += Math.min(chunk.length, max - total);
    if (total >= max) break;
  }
  return Buffer.concat(chunks, total);
}

function throwError(error: Error): never {
  throw error;
}
