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
import { BLOCK, ExtendedHeaders, isZero, MAX_META_SIZE, padding, parseHeader, type TarEntryHeader } from './tar-header.js';

export type { TarEntryType } from './tar-header.js';

/** One entry of a tar archive. */
export interface TarEntry extends TarEntryHeader {
  /** The entry's data, streamed from the archive. */
  readonly body: Readable;
}

/** Where the archive is, for messages: the file and the member holding the tar. */
export interface TarContext {
  readonly file: string;
  readonly member: string;
}

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
    const extended = new ExtendedHeaders(bad);
    while (true) {
      const offset = reader.position;
      const block = await reader.read(BLOCK);
      if (block.length === 0) {
        throw truncated(offset === 0 ? 'it is empty' : 'ends without an end-of-archive block');
      }
      if (block.length < BLOCK) throw truncated(`ends inside the header at offset ${offset}`);
      if (isZero(block)) break;
      const header = parseHeader(block, offset, bad);

      if (extended.isExtended(header)) {
        if (header.size > MAX_META_SIZE) {
          throw new FormatError('opk.too-large', file, `${member}: extended header at offset ${offset} is larger than ${MAX_META_SIZE} bytes`);
        }
        const data = await reader.read(header.size);
        if (data.length < header.size || (await reader.skip(padding(header.size))) < padding(header.size)) {
          throw truncated(`ends inside the extended header at offset ${offset}`);
        }
        extended.extend(header, data, offset);
        continue;
      }

      const fields = extended.entry(header, offset);
      const { path, size } = fields;
      const current = reader.section(size, () => truncated(`entry "${path}" is cut short`));
      section = current;
      const entry: TarEntry = {
        ...fields,
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
