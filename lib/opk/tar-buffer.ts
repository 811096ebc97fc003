/**
 * Reader of a tar archive held whole in memory: the same headers and the same
 * errors as the streaming reader (tar-read.ts, through tar-header.ts), without
 * its streams. For archives small enough to hold, where the streaming
 * machinery costs far more than the parsing (see scan.ts).
 *
 * Guarantees: entries are yielded in order, each with its data as a view of
 * the archive (no copy); input that ends before the end-of-archive block
 * gives FormatError 'opk.truncated'.
 */
import { FormatError } from '../errors.js';
import { BLOCK, ExtendedHeaders, isZero, MAX_META_SIZE, padding, parseHeader, type TarEntryHeader } from './tar-header.js';
import type { TarContext } from './tar-read.js';

/** One entry and its data, a view of the archive buffer. */
export interface BufferedTarEntry extends TarEntryHeader {
  readonly data: Buffer;
}

/** Yields the entries of the tar archive `archive`. */
export function* tarEntriesOf(archive: Buffer, context: TarContext): Generator<BufferedTarEntry, void, undefined> {
  const { file, member } = context;
  const truncated = (detail: string): FormatError =>
    new FormatError('opk.truncated', file, `${member}: truncated tar archive: ${detail}`);
  const bad = (detail: string): FormatError => new FormatError('opk.bad-member', file, `${member}: ${detail}`);
  const extended = new ExtendedHeaders(bad);
  let offset = 0;
  while (true) {
    if (offset >= archive.length) throw truncated(offset === 0 ? 'it is empty' : 'ends without an end-of-archive block');
    if (offset + BLOCK > archive.length) throw truncated(`ends inside the header at offset ${offset}`);
    const block = archive.subarray(offset, offset + BLOCK);
    if (isZero(block)) return;
    const header = parseHeader(block, offset, bad);
    const start = offset + BLOCK;

    if (extended.isExtended(header)) {
      if (header.size > MAX_META_SIZE) {
        throw new FormatError('opk.too-large', file, `${member}: extended header at offset ${offset} is larger than ${MAX_META_SIZE} bytes`);
      }
      if (start + header.size + padding(header.size) > archive.length) throw truncated(`ends inside the extended header at offset ${offset}`);
      extended.extend(header, archive.subarray(start, start + header.size), offset);
      offset = start + header.size + padding(header.size);
      continue;
    }

    const entry = extended.entry(header, offset);
    const end = start + entry.size;
    if (end + padding(entry.size) > archive.length) throw truncated(`entry "${entry.path}" is cut short`);
    yield { ...entry, data: archive.subarray(start, end) };
    offset = end + padding(entry.size);
  }
}
