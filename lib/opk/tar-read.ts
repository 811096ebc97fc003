/**
 * Streaming reader of tar archives (ustar, GNU and pax), for the outer and
 * inner archives of an opk.
 *
 * Understands ustar name prefixes, GNU long names and link targets ('L', 'K'),
 * pax extended headers ('x': path, linkpath, size; 'g' is ignored) and base-256
 * numbers. Entry types it does not know are reported as 'other' with their
 * type flag, for the caller to refuse.
 *
 * Guarantees: entries are yielded one at a time and their data is never
 * buffered (the body must be read or left alone before the next entry is asked
 * for); header checksums are verified; input that ends before the
 * end-of-archive block gives FormatError 'opk.truncated'. After that block the
 * rest of the input is read and discarded, so a decompressor upstream reaches
 * its end and checks its own integrity.
 */
import type { Readable } from 'node:stream';

import { FormatError } from '../errors.js';
import { ByteReader, type Section } from './bytes.js';

export type TarEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'link'
  | 'character-device'
  | 'block-device'
  | 'fifo'
  | 'other';

/** One entry of a tar archive. */
export interface TarEntry {
  /** The name as stored (leading "./" and trailing "/" kept). */
  readonly path: string;
  readonly type: TarEntryType;
  /** The raw type flag ("0", "5", "S"...), for messages about unsupported types. */
  readonly typeflag: string;
  readonly size: number;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Target of a symlink or hard link. */
  readonly linkTarget?: string;
  /** The entry's data, streamed from the archive. */
  readonly body: Readable;
}

/** Where the archive is, for messages: the file and the member holding the tar. */
export interface TarContext {
  readonly file: string;
  readonly member: string;
}

const BLOCK = 512;
/** Bound on pax and GNU long-name records, which are read into memory. */
const MAX_META_SIZE = 1024 * 1024;

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/** Yields the entries of the tar archive read from `source`. */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  context: TarContext,
): AsyncGenerator<TarEntry, void, undefined> {
  const { file, member } = context;
  const reader = new ByteReader(source);
  let section: Section | undefined;
  const truncated = (detail: string): FormatError =>
    new FormatError('opk.truncated', file, `${member}: truncated tar archive: ${detail}`);
  const bad = (detail: string): FormatError => new FormatError('opk.bad-member', file, `${member}: ${detail}`);
  try {
    let pax: Map<string, string> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    while (true) {
      const offset = reader.position;
      const block = await reader.read(BLOCK);
      if (block.length === 0) {
        throw truncated(offset === 0 ? 'it is empty' : 'ends without an end-of-archive block');
      }
      if (block.length < BLOCK) throw truncated(`ends inside the header at offset ${offset}`);
      if (isZero(block)) break;
      const header = parseHeader(block, offset, bad);

      if (header.typeflag === 'x' || header.typeflag === 'g' || header.typeflag === 'L' || header.typeflag === 'K') {
        if (header.size > MAX_META_SIZE) {
          throw new FormatError('opk.too-large', file, `${member}: extended header at offset ${offset} is larger than ${MAX_META_SIZE} bytes`);
        }
        const data = await reader.read(header.size);
        if (data.length < header.size || (await reader.skip(padding(header.size))) < padding(header.size)) {
          throw truncated(`ends inside the extended header at offset ${offset}`);
        }
        if (header.typeflag === 'x') pax = parsePax(data, offset, bad);
        else if (header.typeflag === 'L') longName = cString(data, 0, data.length);
        else if (header.typeflag === 'K') longLink = cString(data, 0, data.length);
        continue;
      }

      const path = pax?.get('path') ?? longName ?? header.name;
      const linkTarget = pax?.get('linkpath') ?? longLink ?? header.linkname;
      const paxSize = pax?.get('size');
      let size = header.size;
      if (paxSize !== undefined) {
        if (!/^\d+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) {
          throw bad(`bad pax size ${JSON.stringify(paxSize)} for the entry at offset ${offset}`);
        }
        size = Number(paxSize);
      }
      pax = longName = longLink = undefined;

      let type = TYPES[header.typeflag] ?? 'other';
      // Old archivers mark directories only by a trailing slash.
      if (header.typeflag === '0' && path.endsWith('/')) type = 'directory';
      if (type !== 'file' && type !== 'other' && size !== 0) {
        // Whether such data follows the header is ambiguous between tar implementations.
        throw bad(`entry "${path}" is a ${type} with a non-zero size`);
      }
      if (path === '') throw bad(`entry at offset ${offset} has an empty name`);

      const current = reader.section(size, () => truncated(`entry "${path}" is cut short`));
      section = current;
      const entry: TarEntry = {
        path,
        type,
        typeflag: header.typeflag,
        size,
        mode: header.mode,
        mtime: header.mtime,
        ...(type === 'symlink' || type === 'link' ? { linkTarget } : {}),
        get body() {
          return current.body;
        },
      };
      yield entry;
      await current.finish();
      section = undefined;
      if ((await reader.skip(padding(size))) < padding(size)) throw truncated(`entry "${path}" is cut short`);
    }
    // Trailing zero blocks and record padding: read so an upstream decompressor finishes.
    await reader.skip(Infinity);
  } finally {
    await section?.abandon();
    await reader.close();
  }
}

interface Header {
  readonly name: string;
  readonly linkname: string;
  readonly typeflag: string;
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

function parseHeader(block: Buffer, offset: number, bad: (detail: string) => FormatError): Header {
  const stored = parseNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw bad(`not a tar archive, or a corrupt tar header at offset ${offset} (checksum mismatch)`);
  }
  const flagByte = block[156] as number;
  let name = cString(block, 0, 100);
  // Only POSIX ustar has a name prefix; GNU keeps other fields at that offset.
  if (block.toString('latin1', 257, 263) === 'ustar\0') {
    const prefix = cString(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const size = parseNumber(block, 124, 12);
  if (size === undefined || size < 0) throw bad(`corrupt tar header at offset ${offset} (bad size field)`);
  return {
    name,
    linkname: cString(block, 157, 100),
    typeflag: flagByte === 0 ? '0' : String.fromCharCode(flagByte),
    size,
    mode: (parseNumber(block, 100, 8) ?? 0) & 0o7777,
    mtime: parseNumber(block, 136, 12) ?? 0,
  };
}

/** An octal or base-256 header number; undefined when it is neither. */
function parseNumber(block: Buffer, start: number, length: number): number | undefined {
  const first = block[start] as number;
  if (first & 0x80) {
    // GNU base-256: 0x80 then a big-endian positive number, 0xff for negative ones.
    if (first !== 0x80) return undefined;
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + (block[i] as number);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = block.toString('latin1', start, start + length).replace(/^[ \0]+/, '').replace(/[ \0].*$/s, '');
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
}

function parsePax(data: Buffer, offset: number, bad: (detail: string) => FormatError): Map<string, string> {
  const records = new Map<string, string>();
  let position = 0;
  while (position < data.length) {
    const space = data.indexOf(0x20, position);
    const length = Number(data.toString('latin1', position, space));
    const end = position + length;
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || end > data.length || data[end - 1] !== 0x0a) {
      throw bad(`malformed pax header at offset ${offset}`);
    }
    const record = data.toString('utf8', space + 1, end - 1);
    const equals = record.indexOf('=');
    if (equals <= 0) throw bad(`malformed pax header at offset ${offset}`);
    records.set(record.slice(0, equals), record.slice(equals + 1));
    position = end;
  }
  return records;
}

function cString(block: Buffer, start: number, length: number): string {
  const nul = block.indexOf(0, start);
  const end = nul < 0 || nul > start + length ? start + length : nul;
  return block.toString('utf8', start, end);
}

function isZero(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
