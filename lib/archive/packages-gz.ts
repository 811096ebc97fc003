/**
 * Packages.gz as a series of gzip members, one per chunk of stanzas, so that
 * a writer changing one stanza compresses one chunk again, not the whole
 * feed (a 6 MiB feed took 65 ms to gzip on every inclusion).
 *
 * A gzip file of several members is one valid gzip file (RFC 1952, 2.2),
 * read as the concatenation of the members' data: checked with zcat,
 * `gzip --test`, Node's gunzipSync and Python's gzip, and with the readers
 * opkg builds decompress with, libarchive (bsdcat) and busybox zcat and
 * gunzip (test/archive/feed-files.test.ts).
 *
 * Where chunks begin depends on the stanzas alone (a chunk starts at a
 * stanza whose package name hashes to a multiple of CHUNK_STANZAS, and at
 * the first): the bytes are a function of the Packages text, so reindex and
 * inclusion write the same Packages.gz, and inserting a stanza changes one
 * chunk. Each member's header carries its own length in an extra field
 * (subfield "OF"), so a writer that reads a feed back can find the members
 * without inflating them and reuse those whose data (CRC-32 and size in
 * the member's trailer) is still the chunk's text.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';

/** Average stanzas per chunk: about 64 KiB of text, compressed in about a millisecond. */
const CHUNK_STANZAS = 128;
/**
 * zlib's default level: an index is rewritten on every inclusion, and at
 * level 9 gzip took 2.6 s of archived's 16 s of CPU in the 500-upload
 * pipeline benchmark, for a file barely smaller.
 */
const LEVEL = constants.Z_DEFAULT_COMPRESSION;
/** Header: magic, deflate, FEXTRA, mtime 0, no extra flags, OS 3 (Unix); then XLEN 8 and subfield "OF" of 4 bytes. */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 3, 8, 0, 0x4f, 0x46, 4, 0]);
const HEADER_LENGTH = HEADER.length + 4;
const TRAILER_LENGTH = 8;

/** Whether a chunk starts at this package's stanza (besides the first stanza of a feed). */
export function startsChunk(pkg: string): boolean {
  // FNV-1a: cheap, and stable across runs and machines.
  let hash = 0x811c9dc5;
  for (let i = 0; i < pkg.length; i++) hash = Math.imul(hash ^ pkg.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % CHUNK_STANZAS === 0;
}

/** One gzip member holding `text` (or these bytes). */
export function gzipMember(text: string | Buffer): Buffer {
  const data = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const body = deflateRawSync(data, { level: LEVEL });
  const member = Buffer.alloc(HEADER_LENGTH + body.length + TRAILER_LENGTH);
  HEADER.copy(member, 0);
  member.writeUInt32LE(member.length, HEADER.length);
  body.copy(member, HEADER_LENGTH);
  member.writeUInt32LE(crc32(data), HEADER_LENGTH + body.length);
  member.writeUInt32LE(data.length % 2 ** 32, HEADER_LENGTH + body.length + 4);
  return member;
}

/** A member of a Packages.gz this module wrote, and what its trailer says of its data. */
export interface Member {
  readonly bytes: Buffer;
  readonly crc: number;
  readonly size: number;
}

/** The members of a Packages.gz as gzipMember writes them; undefined when it is not made of such members. */
export function splitMembers(gz: Buffer): Member[] | undefined {
  const members: Member[] = [];
  let offset = 0;
  while (offset < gz.length) {
    if (gz.length - offset < HEADER_LENGTH + TRAILER_LENGTH || !gz.subarray(offset, offset + HEADER.length).equals(HEADER)) return undefined;
    const length = gz.readUInt32LE(offset + HEADER.length);
    if (length < HEADER_LENGTH + TRAILER_LENGTH || offset + length > gz.length) return undefined;
    const bytes = gz.subarray(offset, offset + length);
    members.push({ bytes, crc: bytes.readUInt32LE(length - 8), size: bytes.readUInt32LE(length - 4) });
    offset += length;
  }
  return members;
}

/** Whether a member holds exactly `data` (by its trailer's CRC-32 and size). */
export function memberHolds(member: Member, data: string | Buffer): boolean {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return member.size === bytes.length % 2 ** 32 && member.crc === crc32(bytes);
}

/** A stanza as chunking sees it: its package. */
export interface Chunkable {
  readonly package: string;
  /** startsChunk(package), when the caller keeps it. */
  readonly startsChunk?: boolean;
}

/** One stanza of a feed with its text. */
export interface ChunkedStanza extends Chunkable {
  /** formatStanza's text (ends with a newline). */
  readonly text: string;
}

/** Where the chunks of sorted stanzas start: indices, the first always 0 (none for no stanzas). */
export function chunkStarts(stanzas: readonly Chunkable[]): number[] {
  const starts: number[] = [];
  stanzas.forEach((stanza, i) => {
    if (i === 0 || (stanza.startsChunk ?? startsChunk(stanza.package))) starts.push(i);
  });
  return starts;
}

/**
 * The text of the chunk of `stanzas` from `start` to `end` (exclusive): its
 * stanzas, each after the blank line separating it from the one before
 * unless it is the first of the feed, so that the chunks join to the whole
 * Packages text.
 */
export function chunkText(stanzas: readonly ChunkedStanza[], start: number, end: number): string {
  const text = stanzas
    .slice(start, end)
    .map((stanza) => stanza.text)
    .join('\n');
  return start === 0 ? text : `\n${text}`;
}

/**
 * The bytes of the chunk from stanza `start` to `end` (exclusive) in a
 * Packages file whose stanzas begin at `offsets`: chunkText's bytes, in place.
 */
export function chunkBytes(packages: Buffer, offsets: readonly number[], start: number, end: number): Buffer {
  const from = start === 0 ? 0 : (offsets[start] as number) - 1;
  const to = end >= offsets.length ? packages.length : (offsets[end] as number) - 1;
  return packages.subarray(from, to);
}

/** The Packages.gz of a Packages file whose sorted stanzas begin at `offsets`: one member per chunk, one empty member for an empty feed. */
export function gzipPackages(packages: Buffer, stanzas: readonly Chunkable[], offsets: readonly number[]): Buffer {
  if (stanzas.length === 0) return gzipMember('');
  const starts = chunkStarts(stanzas);
  return Buffer.concat(starts.map((start, i) => gzipMember(chunkBytes(packages, offsets, start, starts[i + 1] ?? stanzas.length))));
}
