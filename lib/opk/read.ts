/**
 * readOpk: reads and checks an opk binary package in one streaming pass.
 *
 * The outer archive may be ar, tar or gzip-compressed tar (told apart by
 * magic bytes); it must hold `debian-binary` ("2.x"), one `control.tar*` and
 * one `data.tar*`, in any order, with or without a leading "./". The inner
 * archives' compression is detected by magic bytes, never by name.
 *
 * Guarantees: only the control archive is held in memory, within the limits
 * of limits.ts; the data archive is streamed and every entry passes the checks
 * of safety.ts, so a package this returns for is safe to unpack. Decompressors
 * have exited when readOpk settles. Problems with the package are FormatErrors
 * whose message starts with the opk's path and names the member and entry;
 * problems reading it (a missing file, a missing decompressor) are
 * EnvironmentErrors.
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

import { EnvironmentError, FormatError } from '../errors.js';
import type { Stanza } from '../formats/control.js';
import { readAr } from './ar.js';
import { ByteReader } from './bytes.js';
import { type Compression, decompress, detectCompression, MAGIC_LENGTH } from './compression.js';
import { MAX_CONTROL_ARCHIVE_SIZE, MAX_CONTROL_FILE_SIZE } from './limits.js';
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
  type OuterFormat,
} from './members.js';
import { EntryChecker, type SafeEntryType } from './safety.js';
import { readTar } from './tar-read.js';

export type { OuterFormat } from './members.js';

/** One entry of the data archive, as given to onDataEntry. */
export interface OpkDataEntry {
  /** Normalised: no leading "./", no trailing "/", "." for the root directory. */
  readonly path: string;
  readonly type: SafeEntryType;
  readonly size: number;
  /** Permission bits. */
  readonly mode: number;
  /** Symlinks: the target as stored. Hard links: the normalised path linked to. */
  readonly linkTarget?: string;
  /**
   * The entry's data (empty but for files). Read it before the callback's
   * promise settles, or leave it: what is not read is skipped.
   */
  readonly body: Readable;
}

export interface ReadOpkOptions {
  /** Called for each data entry, in archive order, after it passed the safety checks; awaited. */
  readonly onDataEntry?: (entry: OpkDataEntry) => void | Promise<void>;
  /** Refuse ('opk.too-large') a data archive larger than this many bytes once decompressed (a decompression bomb). */
  readonly maxDataSize?: number;
  /**
   * Read this open file, from its start, instead of opening the path (which
   * then only names the package in messages), and close it when done: for a
   * file the caller opened itself, e.g. without following a symlink.
   */
  readonly handle?: FileHandle;
  /**
   * Called with the file's bytes, in order, as they are read; every byte of
   * the file goes through it before readOpk returns, so a caller can digest
   * the package in the same read.
   */
  readonly onInput?: (chunk: Buffer) => void;
}

/** What readOpk found in a package. */
export interface OpkContents {
  /** The fields of the `control` file. */
  readonly control: Stanza;
  /** Every file of the control archive by name (`control` included): maintainer scripts, conffiles... */
  readonly controlFiles: ReadonlyMap<string, Buffer>;
  readonly data: {
    /** Entries in the data archive, directories and links included. */
    readonly entries: number;
    /** Total size of the regular files. */
    readonly totalSize: number;
  };
  readonly outerFormat: OuterFormat;
  readonly compression: { readonly control: Compression; readonly data: Compression };
}


interface OuterMember {
  readonly name: string;
  readonly body: Readable;
}

/** Reads the opk at `path`, checking it fully; see the file comment for what is refused. */
export async function readOpk(path: string, options: ReadOpkOptions = {}): Promise<OpkContents> {
  const { maxDataSize } = options;
  if (maxDataSize !== undefined && !(Number.isSafeInteger(maxDataSize) && maxDataSize >= 0)) {
    throw new RangeError(`readOpk: maxDataSize must be a non-negative integer, got ${String(maxDataSize)}`);
  }
  // The stream closes a given handle too when it is destroyed below.
  const input = options.handle ? options.handle.createReadStream({ start: 0 }) : createReadStream(path);
  const seen = { bytes: 0 };
  const reader = new ByteReader(options.onInput === undefined ? input : observed(input, options.onInput, seen));
  try {
    const contents = await readMembers(path, reader, options);
    if (options.onInput !== undefined) await readRest(path, seen.bytes, options.onInput);
    return contents;
  } catch (error) {
    // fs errors (ENOENT, EACCES, EISDIR...) are about the environment, not the package.
    if (error instanceof Error && 'syscall' in error && !(error instanceof EnvironmentError)) {
      throw new EnvironmentError(`${path}: cannot read: ${error.message}`, { cause: error });
    }
    throw error;
  } finally {
    await reader.close();
    input.destroy();
  }
}

/** Passes a stream's chunks through, telling `onInput` of each and counting them. */
async function* observed(
  input: AsyncIterable<Buffer>,
  onInput: (chunk: Buffer) => void,
  seen: { bytes: number },
): AsyncGenerator<Buffer, void, undefined> {
  for await (const chunk of input) {
    onInput(chunk);
    seen.bytes += chunk.length;
    yield chunk;
  }
}

/** Gives `onInput` what the readers left unread after `from` (trailing padding, or bytes past a stream's end). */
async function readRest(path: string, from: number, onInput: (chunk: Buffer) => void): Promise<void> {
  for await (const chunk of createReadStream(path, { start: from }) as AsyncIterable<Buffer>) onInput(chunk);
}

async function readMembers(file: string, reader: ByteReader, options: ReadOpkOptions): Promise<OpkContents> {
  const outerFormat = detectOuterFormat(await reader.peek(OUTER_HEAD_LENGTH), file);
  const members = new MemberSet(file);
  let control: ControlPart | undefined;
  let data: DataPart | undefined;
  for await (const member of outerMembers(outerFormat, reader, file)) {
    const { kind, name } = members.classify(member.name);
    if (kind === 'debian-binary') await readDebianBinary(member.body, file);
    else if (kind === 'control') control = await readControl(member.body, name, file);
    else data = await readData(member.body, name, file, options);
  }
  members.finish();
  if (!control || !data) throw new Error('readOpk: MemberSet.finish let a package without control or data through');
  return {
    control: control.stanza,
    controlFiles: control.files,
    data: { entries: data.entries, totalSize: data.totalSize },
    outerFormat,
    compression: { control: control.compression, data: data.compression },
  };
}

/** The outer archive's members, whatever its format. */
async function* outerMembers(
  format: OuterFormat,
  reader: ByteReader,
  file: string,
): AsyncGenerator<OuterMember, void, undefined> {
  if (format === 'ar') {
    yield* readAr(reader.rest(), file);
    return;
  }
  const context = { file, member: 'outer archive' };
  let source: AsyncIterable<Buffer> = reader.rest();
  if (format === 'tar.gz') {
    const tar = new ByteReader(decompress('gzip', source, context));
    const head = await tar.peek(OUTER_HEAD_LENGTH);
    if (head.length === OUTER_HEAD_LENGTH && !isTar(head)) {
      await tar.close();
      throw notTarInsideGzip(file);
    }
    source = tar.rest();
  }
  for await (const entry of readTar(source, context)) {
    if (isRootDirectory(entry.path, entry.type)) continue;
    if (entry.type !== 'file') throw notAFileMember(file, entry.path, entry.type);
    yield {
      name: entry.path,
      get body() {
        return entry.body;
      },
    };
  }
}

async function readDebianBinary(body: Readable, file: string): Promise<void> {
  checkDebianBinary(await readAll(body, MAX_DEBIAN_BINARY_SIZE, () => debianBinaryTooLarge(file)), file);
}

interface ControlPart {
  readonly stanza: Stanza;
  readonly files: Map<string, Buffer>;
  readonly compression: Compression;
}

async function readControl(body: Readable, member: string, file: string): Promise<ControlPart> {
  const context = { file, member };
  const reader = new ByteReader(body);
  try {
    const compression = detectCompression(await reader.peek(MAGIC_LENGTH));
    const archive = limit(decompress(compression, reader.rest(), context), MAX_CONTROL_ARCHIVE_SIZE, () =>
      new FormatError('opk.too-large', file, `${member}: larger than ${MAX_CONTROL_ARCHIVE_SIZE} bytes once decompressed`),
    );
    const checker = new EntryChecker(context);
    const entries = new ControlEntries(file, member);
    const files = new Map<string, Buffer>();
    for await (const entry of readTar(archive, context)) {
      const checked = checker.check(entry);
      if (!entries.accept({ ...checked, size: entry.size }, entry.path)) continue;
      files.set(checked.path, await readAll(entry.body, MAX_CONTROL_FILE_SIZE, () => entries.tooLarge(checked.path)));
    }
    const stanza = controlStanzaOf(files.get('control'), member, file);
    return { stanza, files, compression };
  } finally {
    await reader.close();
  }
}

interface DataPart {
  readonly entries: number;
  readonly totalSize: number;
  readonly compression: Compression;
}

async function readData(body: Readable, member: string, file: string, options: ReadOpkOptions): Promise<DataPart> {
  const context = { file, member };
  const reader = new ByteReader(body);
  try {
    const compression = detectCompression(await reader.peek(MAGIC_LENGTH));
    let archive = decompress(compression, reader.rest(), context);
    const { maxDataSize, onDataEntry } = options;
    if (maxDataSize !== undefined) {
      archive = limit(archive, maxDataSize, () =>
        new FormatError('opk.too-large', file, `${member}: larger than ${maxDataSize} bytes once decompressed (Unpacked-Size-Limit)`),
      );
    }
    const checker = new EntryChecker(context);
    let entries = 0;
    let totalSize = 0;
    for await (const entry of readTar(archive, context)) {
      const checked = checker.check(entry);
      entries += 1;
      if (checked.type === 'file') totalSize += entry.size;
      if (onDataEntry !== undefined) {
        await onDataEntry({
          path: checked.path,
          type: checked.type,
          size: entry.size,
          mode: entry.mode,
          ...(checked.linkTarget === undefined ? {} : { linkTarget: checked.linkTarget }),
          // A getter, so that a body is only made for callers that want it.
          get body() {
            return entry.body;
          },
        });
      }
    }
    checker.finish();
    return { entries, totalSize, compression };
  } finally {
    await reader.close();
  }
}

/** Passes chunks through until more than `max` bytes went by, then throws. */
async function* limit(
  chunks: AsyncIterable<Buffer>,
  max: number,
  tooLarge: () => FormatError,
): AsyncGenerator<Buffer, void, undefined> {
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > max) throw tooLarge();
    yield chunk;
  }
}

/** A whole stream, refusing more than `max` bytes. */
async function readAll(body: Readable, max: number, tooLarge: () => FormatError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
