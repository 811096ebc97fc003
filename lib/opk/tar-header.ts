/**
 * Tar headers (ustar, GNU and pax): parsing one 512-byte header block, and
 * folding extended headers (pax 'x', GNU long names 'L' and 'K') into the
 * entry that follows them. Shared by the streaming reader (tar-read.ts) and
 * the in-memory one (tar-buffer.ts), so both read an archive alike.
 *
 * Understands ustar name prefixes and base-256 numbers; header checksums are
 * verified. Entry types it does not know are reported as 'other' with their
 * type flag, for the caller to refuse. Problems are FormatErrors made by the
 * caller's `bad` (which names the file and member).
 */
import type { FormatError } from '../errors.js';

export type TarEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'link'
  | 'character-device'
  | 'block-device'
  | 'fifo'
  | 'other';

/** What the headers say about one entry, extended headers applied. */
export interface TarEntryHeader {
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
}

/** One header block as stored. */
export interface RawHeader {
  readonly name: string;
  readonly linkname: string;
  readonly typeflag: string;
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

/** Makes the error for a malformed archive; the detail says what and where. */
export type BadArchive = (detail: string) => FormatError;

export const BLOCK = 512;
/** Bound on pax and GNU long-name records, which are read into memory. */
export const MAX_META_SIZE = 1024 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const USTAR_MAGIC = Buffer.from('ustar\0', 'latin1');

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

/** Parses a header block found at `offset`; checks its checksum. */
export function parseHeader(block: Buffer, offset: number, bad: BadArchive): RawHeader {
  const stored = parseNumber(block, CHECKSUM_START, CHECKSUM_END - CHECKSUM_START);
  if (stored !== checksum(block, false) && stored !== checksum(block, true)) {
    throw bad(`not a tar archive, or a corrupt tar header at offset ${offset} (checksum mismatch)`);
  }
  const flagByte = block[156] as number;
  let name = cString(block, 0, 100);
  // Only POSIX ustar has a name prefix; GNU keeps other fields at that offset.
  if (block.compare(USTAR_MAGIC, 0, USTAR_MAGIC.length, 257, 257 + USTAR_MAGIC.length) === 0) {
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

/** The header's checksum: the sum of its bytes, the checksum field counted as spaces; old tars summed signed bytes. */
function checksum(block: Buffer, signed: boolean): number {
  let sum = 8 * SPACE;
  for (let i = 0; i < CHECKSUM_START; i++) sum += block[i] as number;
  for (let i = CHECKSUM_END; i < BLOCK; i++) sum += block[i] as number;
  if (!signed) return sum;
  for (let i = 0; i < BLOCK; i++) if (!(i >= CHECKSUM_START && i < CHECKSUM_END) && (block[i] as number) > 127) sum -= 256;
  return sum;
}

const CHECKSUM_START = 148;
const CHECKSUM_END = 156;

/**
 * The extended headers met since the last entry. Feed each header to
 * `isExtended`; give an extended one's data to `extend`, and an entry's
 * header to `entry`, which applies and forgets them.
 */
export class ExtendedHeaders {
  #pax: Map<string, string> | undefined;
  #longName: string | undefined;
  #longLink: string | undefined;

  constructor(private readonly bad: BadArchive) {}

  /** Whether `header` is an extended header (its data, at most MAX_META_SIZE bytes, goes to `extend`). */
  isExtended(header: RawHeader): boolean {
    return header.typeflag === 'x' || header.typeflag === 'g' || header.typeflag === 'L' || header.typeflag === 'K';
  }

  /** Records an extended header's data ('g', global pax headers, are ignored). */
  extend(header: RawHeader, data: Buffer, offset: number): void {
    if (header.typeflag === 'x') this.#pax = parsePax(data, offset, this.bad);
    else if (header.typeflag === 'L') this.#longName = cString(data, 0, data.length);
    else if (header.typeflag === 'K') this.#longLink = cString(data, 0, data.length);
  }

  /** The entry `header` describes, with the extended headers before it applied. */
  entry(header: RawHeader, offset: number): TarEntryHeader {
    const pax = this.#pax;
    const path = pax?.get('path') ?? this.#longName ?? header.name;
    const linkTarget = pax?.get('linkpath') ?? this.#longLink ?? header.linkname;
    const paxSize = pax?.get('size');
    let size = header.size;
    if (paxSize !== undefined) {
      if (!/^\d+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) {
        throw this.bad(`bad pax size ${JSON.stringify(paxSize)} for the entry at offset ${offset}`);
      }
      size = Number(paxSize);
    }
    this.#pax = this.#longName = this.#longLink = undefined;

    let type = TYPES[header.typeflag] ?? 'other';
    // Old archivers mark directories only by a trailing slash.
    if (header.typeflag === '0' && path.endsWith('/')) type = 'directory';
    if (type !== 'file' && type !== 'other' && size !== 0) {
      // Whether such data follows the header is ambiguous between tar implementations.
      throw this.bad(`entry "${path}" is a ${type} with a non-zero size`);
    }
    if (path === '') throw this.bad(`entry at offset ${offset} has an empty name`);
    return {
      path,
      type,
      typeflag: header.typeflag,
      size,
      mode: header.mode,
      mtime: header.mtime,
      ...(type === 'symlink' || type === 'link' ? { linkTarget } : {}),
    };
  }
}

/** Whether a block is all zeros (the end-of-archive marker). */
export function isZero(block: Buffer): boolean {
  return block.length === BLOCK && block.equals(ZERO_BLOCK);
}

/** Bytes of padding after `size` bytes of data, up to the next block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * An octal or base-256 header number; undefined when it is neither. Octal
 * fields may be padded with spaces or NULs on either side. Parsed byte by
 * byte: every header has four, and archives have many headers.
 */
function parseNumber(block: Buffer, start: number, length: number): number | undefined {
  const end = start + length;
  const first = block[start] as number;
  if (first & 0x80) {
    // GNU base-256: 0x80 then a big-endian positive number, 0xff for negative ones.
    if (first !== 0x80) return undefined;
    let value = 0;
    for (let i = start + 1; i < end; i++) value = value * 256 + (block[i] as number);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  let i = start;
  while (i < end && (block[i] === SPACE || block[i] === NUL)) i++;
  let value = 0;
  for (; i < end; i++) {
    const byte = block[i] as number;
    if (byte === SPACE || byte === NUL) break;
    if (byte < DIGIT_0 || byte > DIGIT_7) return undefined;
    value = value * 8 + (byte - DIGIT_0);
  }
  return Number.isSafeInteger(value) ? value : undefined;
}

const SPACE = 0x20;
const NUL = 0;
const DIGIT_0 = 0x30;
const DIGIT_7 = 0x37;

function parsePax(data: Buffer, offset: number, bad: BadArchive): Map<string, string> {
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
