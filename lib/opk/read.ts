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
import { parseSingleStanza, type Stanza } from '../formats/control.js';
import { AR_MAGIC, readAr } from './ar.js';
import { ByteReader } from './bytes.js';
import { type Compression, decompress, detectCompression, MAGIC_LENGTH } from './compression.js';
import { MAX_CONTROL_ARCHIVE_SIZE, MAX_CONTROL_FILE_SIZE } from './limits.js';
import { EntryChecker, type SafeEntryType } from './safety.js';
import { readTar } from './tar-read.js';

export type OuterFormat = 'ar' | 'tar' | 'tar.gz';

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
  /** Refuse ('opk.too-large') a data archive larger than this many bytes once decompressed. */
  readonly maxDataSize?: number;
  /**
   * Read this open file, from its start, instead of opening the path (which
   * then only names the package in messages), and close it when done: for a
   * file the caller opened itself, e.g. without following a symlink.
   */
  readonly handle?: FileHandle;
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

const CONTROL_MEMBER = /^control\.tar(\.[A-Za-z0-9]+)?$/;
const DATA_MEMBER = /^data\.tar(\.[A-Za-z0-9]+)?$/;
const MAX_DEBIAN_BINARY_SIZE = 1024;
const TAR_BLOCK = 512;

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
  const reader = new ByteReader(input);
  try {
    return await readMembers(path, reader, options);
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

async function readMembers(file: string, reader: ByteReader, options: ReadOpkOptions): Promise<OpkContents> {
  const outerFormat = detectOuterFormat(await reader.peek(TAR_BLOCK), file);
  let debianBinary = false;
  let control: ControlPart | undefined;
  let data: DataPart | undefined;
  for await (const member of outerMembers(outerFormat, reader, file)) {
    const name = member.name.replace(/^(\.\/)+/, '');
    if (name === 'debian-binary') {
      if (debianBinary) throw new FormatError('opk.bad-member', file, 'second debian-binary member');
      await checkDebianBinary(member.body, file);
      debianBinary = true;
    } else if (CONTROL_MEMBER.test(name)) {
      if (control) throw new FormatError('opk.bad-member', file, `second control member "${member.name}"`);
      control = await readControl(member.body, name, file);
    } else if (DATA_MEMBER.test(name)) {
      if (data) throw new FormatError('opk.bad-member', file, `second data member "${member.name}"`);
      data = await readData(member.body, name, file, options);
    } else {
      throw new FormatError(
        'opk.bad-member',
        file,
        `unexpected member "${member.name}" (an opk holds debian-binary, control.tar.* and data.tar.*)`,
      );
    }
  }
  if (!debianBinary) throw new FormatError('opk.missing-member', file, 'no debian-binary member');
  if (!control) throw new FormatError('opk.missing-member', file, 'no control.tar.* member');
  if (!data) throw new FormatError('opk.missing-member', file, 'no data.tar.* member');
  return {
    control: control.stanza,
    controlFiles: control.files,
    data: { entries: data.entries, totalSize: data.totalSize },
    outerFormat,
    compression: { control: control.compression, data: data.compression },
  };
}

function detectOuterFormat(head: Buffer, file: string): OuterFormat {
  if (head.length === 0) throw new FormatError('opk.truncated', file, 'empty file');
  const arLength = Math.min(head.length, AR_MAGIC.length);
  if (head.subarray(0, arLength).equals(AR_MAGIC.subarray(0, arLength))) return 'ar';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (isTar(head)) return 'tar';
  throw new FormatError(
    'opk.bad-magic',
    file,
    'not an opk: expected an ar archive, a tar archive or a gzip-compressed tar archive',
  );
}

function isTar(head: Buffer): boolean {
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
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
    const head = await tar.peek(TAR_BLOCK);
    if (head.length === TAR_BLOCK && !isTar(head)) {
      await tar.close();
      throw new FormatError('opk.bad-magic', file, 'not an opk: the gzip-compressed data is not a tar archive');
    }
    source = tar.rest();
  }
  for await (const entry of readTar(source, context)) {
    const name = entry.path.replace(/^(\.\/)+/, '');
    if (entry.type === 'directory' && (name === '' || name === '.')) continue;
    if (entry.type !== 'file') {
      throw new FormatError('opk.bad-member', file, `member "${entry.path}" is not a regular file (${entry.type})`);
    }
    yield {
      name: entry.path,
      get body() {
        return entry.body;
      },
    };
  }
}

async function checkDebianBinary(body: Readable, file: string): Promise<void> {
  const content = await readAll(body, MAX_DEBIAN_BINARY_SIZE, () =>
    new FormatError('opk.bad-member', file, `debian-binary is larger than ${MAX_DEBIAN_BINARY_SIZE} bytes`),
  );
  const version = content.toString('latin1');
  if (!version.startsWith('2.')) {
    const shown = JSON.stringify(version.split('\n')[0]);
    throw new FormatError('opk.bad-member', file, `debian-binary: unsupported package format ${shown} (expected 2.x)`);
  }
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
    const files = new Map<string, Buffer>();
    for await (const entry of readTar(archive, context)) {
      const { path, type } = checker.check(entry);
      if (path === '.') continue;
      if (type !== 'file' || path.includes('/')) {
        throw new FormatError(
          'opk.bad-member',
          file,
          `${member}: unexpected ${type} "${entry.path}" (a control archive holds only plain files)`,
        );
      }
      if (files.has(path)) throw new FormatError('opk.bad-member', file, `${member}: "${path}" appears twice`);
      const tooLarge = (): FormatError =>
        new FormatError(
          'opk.too-large',
          file,
          `${member}: control file "${path}" is larger than ${MAX_CONTROL_FILE_SIZE} bytes`,
        );
      if (entry.size > MAX_CONTROL_FILE_SIZE) throw tooLarge();
      files.set(path, await readAll(entry.body, MAX_CONTROL_FILE_SIZE, tooLarge));
    }
    const content = files.get('control');
    if (content === undefined) throw new FormatError('opk.missing-member', file, `${member}: no control file`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(content);
    } catch {
      throw new FormatError('opk.bad-member', file, `${member}: the control file is not valid UTF-8`);
    }
    const stanza = parseSingleStanza(text, { file: `${file}: ${member}/control` });
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
        new FormatError('opk.too-large', file, `${member}: larger than ${maxDataSize} bytes once decompressed (maxDataSize)`),
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
