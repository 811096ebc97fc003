/**
 * Streaming reader of Unix `ar` archives, the outer format of Debian packages
 * and of many opks.
 *
 * Reads "!<arch>\n", then 60-byte member headers each followed by the
 * member's data and one padding byte when the size is odd. Understands GNU
 * names ("name/", "//" long-name table, "/N" references, "/" symbol tables,
 * which are skipped) and BSD names ("#1/len", the name stored before the data).
 *
 * Guarantees: members are yielded one at a time and their data is never
 * buffered; a member's body must be read or left alone before the next member
 * is asked for (what it did not read is skipped). Input that ends early gives
 * FormatError 'opk.truncated'; a malformed header gives 'opk.bad-member'.
 */
import type { Readable } from 'node:stream';

import { FormatError } from '../errors.js';
import { ByteReader, type Section } from './bytes.js';

/** The magic string every ar archive starts with. */
export const AR_MAGIC = Buffer.from('!<arch>\n', 'latin1');

const HEADER_SIZE = 60;
/** Bound on the GNU long-name table, which is read into memory. */
const MAX_NAME_TABLE = 1024 * 1024;

/** One member of an ar archive. */
export interface ArMember {
  /** The name without GNU's trailing "/". */
  readonly name: string;
  readonly size: number;
  readonly mode: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** The member's data, streamed from the archive. */
  readonly body: Readable;
}

/**
 * Yields the members of the ar archive read from `source`. `file` names the
 * archive in error messages.
 */
export async function* readAr(
  source: AsyncIterable<Uint8Array>,
  file: string,
): AsyncGenerator<ArMember, void, undefined> {
  const reader = new ByteReader(source);
  let section: Section | undefined;
  try {
    const magic = await reader.read(AR_MAGIC.length);
    if (!magic.equals(AR_MAGIC)) {
      if (magic.length < AR_MAGIC.length && AR_MAGIC.subarray(0, magic.length).equals(magic)) {
        throw new FormatError('opk.truncated', file, 'truncated ar archive: ends inside the magic string');
      }
      throw new FormatError('opk.bad-magic', file, 'not an ar archive (no "!<arch>" magic string)');
    }
    let nameTable: Buffer | undefined;
    while (true) {
      const offset = reader.position;
      const header = await reader.read(HEADER_SIZE);
      if (header.length === 0) return;
      if (header.length < HEADER_SIZE) {
        throw new FormatError('opk.truncated', file, `truncated ar archive: ends inside the member header at offset ${offset}`);
      }
      const fields = parseHeader(header, offset, file);
      const stored = fields.size;
      const padded = stored + (stored % 2);

      if (fields.name === '/' || fields.name === '/SYM64/') {
        await skipExactly(reader, padded, stored, file, 'the symbol table');
        continue;
      }
      if (fields.name === '//') {
        if (stored > MAX_NAME_TABLE) {
          throw new FormatError('opk.too-large', file, `ar long-name table of ${stored} bytes is larger than ${MAX_NAME_TABLE}`);
        }
        nameTable = await reader.read(stored);
        if (nameTable.length < stored) {
          throw new FormatError('opk.truncated', file, 'truncated ar archive: the long-name table is cut short');
        }
        await reader.skip(stored % 2);
        continue;
      }

      let name: string;
      let dataSize = stored;
      const bsd = /^#1\/(\d+)$/.exec(fields.name);
      if (/^\/\d+$/.test(fields.name)) {
        name = longName(nameTable, Number(fields.name.slice(1)), offset, file);
      } else if (bsd) {
        const length = Number(bsd[1]);
        if (length > stored) {
          throw new FormatError('opk.bad-member', file, `ar member header at offset ${offset}: BSD name longer than the member`);
        }
        const raw = await reader.read(length);
        if (raw.length < length) {
          throw new FormatError('opk.truncated', file, `truncated ar archive: ends inside the name of the member at offset ${offset}`);
        }
        name = raw.toString('utf8').replace(/\0+$/, '');
        dataSize = stored - length;
      } else {
        name = fields.name.endsWith('/') ? fields.name.slice(0, -1) : fields.name;
      }

      const current = reader.section(dataSize, () =>
        new FormatError('opk.truncated', file, `truncated ar archive: member "${name}" is cut short (expected ${dataSize} bytes)`),
      );
      section = current;
      yield {
        name,
        size: dataSize,
        mode: fields.mode,
        mtime: fields.mtime,
        get body() {
          return current.body;
        },
      };
      await current.finish();
      section = undefined;
      // An archive that stops right after an odd-sized last member lacks only its padding, not data.
      await reader.skip(stored % 2);
    }
  } finally {
    await section?.abandon();
    await reader.close();
  }
}

interface HeaderFields {
  readonly name: string;
  readonly mtime: number;
  readonly mode: number;
  readonly size: number;
}

function parseHeader(header: Buffer, offset: number, file: string): HeaderFields {
  const text = header.toString('latin1');
  if (text.slice(58, 60) !== '`\n') {
    throw new FormatError('opk.bad-member', file, `corrupt ar member header at offset ${offset} (no "\`\\n" terminator)`);
  }
  const sizeText = text.slice(48, 58).trim();
  if (!/^\d+$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new FormatError('opk.bad-member', file, `corrupt ar member header at offset ${offset} (size ${JSON.stringify(sizeText)})`);
  }
  return {
    name: header.toString('utf8', 0, 16).trimEnd(),
    mtime: parseNumber(text.slice(16, 28), 10),
    mode: parseNumber(text.slice(40, 48), 8),
    size: Number(sizeText),
  };
}

/** A numeric header field; fields other than the size are informative, so junk reads as 0. */
function parseNumber(field: string, radix: number): number {
  const value = parseInt(field.trim(), radix);
  return Number.isFinite(value) ? value : 0;
}

function longName(table: Buffer | undefined, start: number, offset: number, file: string): string {
  if (table === undefined || start >= table.length) {
    throw new FormatError('opk.bad-member', file, `ar member header at offset ${offset}: long name /${start} not in the name table`);
  }
  const end = table.indexOf('\n', start);
  const raw = table.toString('utf8', start, end < 0 ? table.length : end);
  return raw.endsWith('/') ? raw.slice(0, -1) : raw;
}

async function skipExactly(reader: ByteReader, length: number, needed: number, file: string, what: string): Promise<void> {
  if ((await reader.skip(length)) < needed) {
    throw new FormatError('opk.truncated', file, `truncated ar archive: ${what} is cut short`);
  }
}
