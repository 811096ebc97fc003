/**
 * Tar headers for the archives opkfarm writes: POSIX ustar, with a pax
 * extended header in front only when a name, link target or size does not fit
 * (so GNU tar, busybox and opkg's own reader all read them).
 *
 * Guarantees: the bytes depend only on the arguments: owner root:root (0/0),
 * no device numbers, no time but the given mtime, a fixed pax header name.
 */

export type TarWriteType = 'file' | 'directory' | 'symlink' | 'link';

/** What goes into one header. */
export interface TarHeaderFields {
  /** Stored as given (callers add "./" and a directory's trailing "/"). */
  readonly path: string;
  readonly type: TarWriteType;
  /** Permission bits; masked with 0o7777. */
  readonly mode: number;
  /** Data size; 0 for everything but files. */
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Target of a symlink or hard link. */
  readonly linkTarget?: string;
}

const BLOCK = 512;
const TYPEFLAGS: Readonly<Record<TarWriteType, string>> = { file: '0', link: '1', symlink: '2', directory: '5' };
/** Largest value of an 11-digit octal field (sizes and times). */
const MAX_OCTAL_11 = 8 ** 11 - 1;

/** Two zero blocks: the end of an archive. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);

/** The header block(s) of one entry. */
export function encodeHeader(fields: TarHeaderFields): Buffer {
  const pax: Array<readonly [string, string]> = [];
  const path = Buffer.from(fields.path, 'utf8');
  let name: Buffer = path;
  let prefix: Buffer = Buffer.alloc(0);
  if (path.length > 100) {
    const split = splitName(path);
    if (split) [prefix, name] = split;
    else {
      pax.push(['path', fields.path]);
      name = path.subarray(0, 100);
    }
  }
  let link: Buffer = Buffer.from(fields.linkTarget ?? '', 'utf8');
  if (link.length > 100) {
    pax.push(['linkpath', fields.linkTarget ?? '']);
    link = link.subarray(0, 100);
  }
  let size = fields.size;
  if (size > MAX_OCTAL_11) {
    pax.push(['size', String(size)]);
    size = 0;
  }
  const mtime = Math.min(Math.max(Math.floor(fields.mtime), 0), MAX_OCTAL_11);
  const header = block({ name, prefix, link, typeflag: TYPEFLAGS[fields.type], mode: fields.mode & 0o7777, size, mtime });
  if (pax.length === 0) return header;

  const records = Buffer.concat(pax.map(([key, value]) => paxRecord(key, value)));
  const paxHeader = block({
    name: Buffer.from('././@PaxHeader'),
    prefix: Buffer.alloc(0),
    link: Buffer.alloc(0),
    typeflag: 'x',
    mode: 0o644,
    size: records.length,
    mtime,
  });
  return Buffer.concat([paxHeader, records, padding(records.length), header]);
}

/** Zero bytes that bring `size` bytes of data to a block boundary. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

interface BlockFields {
  readonly name: Buffer;
  readonly prefix: Buffer;
  readonly link: Buffer;
  readonly typeflag: string;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
}

function block(fields: BlockFields): Buffer {
  const header = Buffer.alloc(BLOCK);
  fields.name.copy(header, 0);
  octal(header, 100, 8, fields.mode);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, fields.size);
  octal(header, 136, 12, fields.mtime);
  header.write(fields.typeflag, 156, 'latin1');
  fields.link.copy(header, 157);
  header.write('ustar\u000000', 257, 'latin1');
  header.write('root', 265, 'latin1');
  header.write('root', 297, 'latin1');
  octal(header, 329, 8, 0);
  octal(header, 337, 8, 0);
  fields.prefix.copy(header, 345);
  // The checksum is computed with its own field as spaces.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return header;
}

function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, 'latin1');
}

/** Splits a long name into ustar's prefix (≤155 bytes) and name (≤100 bytes) at a slash. */
function splitName(path: Buffer): [Buffer, Buffer] | undefined {
  for (let slash = Math.min(155, path.length - 2); slash > 0; slash--) {
    if (path[slash] === 0x2f && path.length - slash - 1 <= 100) {
      return [path.subarray(0, slash), path.subarray(slash + 1)];
    }
  }
  return undefined;
}

/** "<length> <key>=<value>\n", where the length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.from(` ${key}=${value}\n`, 'utf8');
  let digits = String(body.length).length;
  while (String(body.length + digits).length !== digits) digits += 1;
  return Buffer.concat([Buffer.from(String(body.length + digits)), body]);
}
