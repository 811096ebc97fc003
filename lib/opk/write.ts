/**
 * writeOpk: packs a directory tree and control data into an opk.
 *
 * Layout, as opkg-build writes it: a gzip-compressed tar holding
 * `./debian-binary` ("2.0\n"), `./control.tar.gz` and `./data.tar.gz`, in that
 * order; the inner archives are gzip-compressed tars.
 *
 * Guarantees:
 * - Deterministic: entries sorted by name (byte order), names prefixed "./",
 *   directories (the root "./" included) ending in "/", owner root:root (0/0),
 *   permission bits kept, mtimes set to sourceDateEpoch or SOURCE_DATE_EPOCH
 *   when given. Same tree and epoch, same bytes.
 * - The root entry "./" is always mode 0755: it stands for the install root,
 *   whose mode no package should change, and staging directories (mkdtemp)
 *   are often 0700.
 * - Symlinks stay symlinks; files hard-linked within the tree become tar hard
 *   links to the first of their names. Special files (devices, FIFOs,
 *   sockets) and entries that safety.ts would refuse are refused before
 *   anything is written, so every package written here passes readOpk.
 * - Crash-safe: data.tar.gz is streamed to a temporary file beside the
 *   destination (never held in memory), the opk is written under a temporary
 *   name and renamed into place (lib/fs/atomic.ts). No partial file ever has the
 *   destination name, and temporaries are removed on failure.
 */
import type { BigIntStats } from 'node:fs';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createGzip } from 'node:zlib';

import { EnvironmentError, FormatError } from '../errors.js';
import { formatStanza, type Stanza } from '../formats/control.js';
import { tempPathFor, writeFileAtomic } from '../fs/atomic.js';
import { MAX_CONTROL_ARCHIVE_SIZE, MAX_CONTROL_FILE_SIZE } from './limits.js';
import { EntryChecker } from './safety.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeaderFields } from './tar-write.js';

/** A file of the control archive other than `control` itself (a maintainer script, conffiles...). */
export interface ControlFile {
  /** A plain file name such as "postinst". */
  readonly name: string;
  readonly content: string | Uint8Array;
  /** Permission bits, e.g. 0o755 for maintainer scripts. */
  readonly mode: number;
}

export interface WriteOpkOptions {
  /** Path of the opk to create (replaced atomically when it exists). */
  readonly destination: string;
  /** The fields of the `control` file. */
  readonly control: Stanza;
  readonly controlFiles?: readonly ControlFile[];
  /** The tree to install, as it should appear under the install root. */
  readonly dataDirectory: string;
  /** Seconds since the epoch for every mtime; defaults to SOURCE_DATE_EPOCH when set. */
  readonly sourceDateEpoch?: number;
}

/**
 * Compression levels. Control data is tiny, so it gets the best. Data takes
 * zlib's default: level 9 buys little on large trees for much more time. The
 * outer archive holds compressed members only, so it stores (level 0):
 * deflating them again costs time and gains nothing.
 */
const CONTROL_LEVEL = zlib.Z_BEST_COMPRESSION;
const DATA_LEVEL = zlib.Z_DEFAULT_COMPRESSION;
const OUTER_LEVEL = zlib.Z_NO_COMPRESSION;

const CONTROL_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** An entry of the data archive with where its content comes from. */
interface DataEntry extends TarHeaderFields {
  readonly source: string;
}

/** Writes the opk described by `options`; see the file comment for the guarantees. */
export async function writeOpk(options: WriteOpkOptions): Promise<void> {
  const epoch = resolveEpoch(options.sourceDateEpoch);
  const packedAt = epoch ?? Math.floor(Date.now() / 1000);
  const controlArchive = await gzip(controlTar(options.control, options.controlFiles ?? [], packedAt), CONTROL_LEVEL);
  const entries = await scanTree(options.dataDirectory, epoch);

  const dataTemp = tempPathFor(`${options.destination}.data.tar.gz`);
  try {
    await writeGzipFile(dataTemp, dataTar(entries), DATA_LEVEL);
    const dataSize = (await stat(dataTemp)).size;
    await writeFileAtomic(
      options.destination,
      (temp) => writeGzipFile(temp, outerTar(controlArchive, dataTemp, dataSize, packedAt), OUTER_LEVEL),
      { mode: 0o644 },
    );
  } finally {
    await unlink(dataTemp).catch(() => undefined);
  }
}

function resolveEpoch(option: number | undefined): number | undefined {
  if (option !== undefined) {
    if (!Number.isSafeInteger(option) || option < 0) {
      throw new RangeError(`writeOpk: sourceDateEpoch must be a non-negative integer (seconds), got ${option}`);
    }
    return option;
  }
  const variable = process.env.SOURCE_DATE_EPOCH;
  if (variable === undefined || variable === '') return undefined;
  if (!/^\d+$/.test(variable) || !Number.isSafeInteger(Number(variable))) {
    throw new EnvironmentError(`SOURCE_DATE_EPOCH must be a non-negative integer (seconds), got ${JSON.stringify(variable)}`);
  }
  return Number(variable);
}

/** The control archive's tar stream: "./", then `control` and the other files sorted by name. */
function controlTar(control: Stanza, controlFiles: readonly ControlFile[], mtime: number): Buffer[] {
  const files = new Map<string, { content: Buffer; mode: number }>();
  files.set('control', { content: Buffer.from(formatStanza(control), 'utf8'), mode: 0o644 });
  controlFiles.forEach((file, index) => {
    const where = `writeOpk: controlFiles[${index}]`;
    if (!CONTROL_FILE_NAME.test(file.name)) throw new RangeError(`${where}.name ${JSON.stringify(file.name)} is not a plain file name`);
    if (files.has(file.name)) throw new RangeError(`${where}.name ${JSON.stringify(file.name)} is given twice (or is "control", which comes from the control option)`);
    if (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > 0o7777) {
      throw new RangeError(`${where}.mode must be permission bits (0 to 0o7777), got ${file.mode}`);
    }
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content);
    files.set(file.name, { content, mode: file.mode });
  });

  const blocks: Buffer[] = [encodeHeader({ path: './', type: 'directory', mode: 0o755, size: 0, mtime })];
  for (const name of [...files.keys()].sort(compareNames)) {
    const { content, mode } = files.get(name) as { content: Buffer; mode: number };
    if (content.length > MAX_CONTROL_FILE_SIZE) {
      throw new RangeError(`writeOpk: control file "${name}" is ${content.length} bytes, more than the ${MAX_CONTROL_FILE_SIZE} allowed`);
    }
    blocks.push(encodeHeader({ path: `./${name}`, type: 'file', mode, size: content.length, mtime }), content, padding(content.length));
  }
  blocks.push(END_OF_ARCHIVE);
  const size = blocks.reduce((total, block) => total + block.length, 0);
  if (size > MAX_CONTROL_ARCHIVE_SIZE) {
    throw new RangeError(`writeOpk: the control archive would be ${size} bytes, more than the ${MAX_CONTROL_ARCHIVE_SIZE} allowed`);
  }
  return blocks;
}

/** Every entry under `root`, sorted, typed and checked; contents are read later. */
async function scanTree(root: string, epoch: number | undefined): Promise<DataEntry[]> {
  const found: Array<{ name: string; key: Buffer; source: string; stat: BigIntStats }> = [];
  const visit = async (relative: string, source: string): Promise<void> => {
    // The root itself may be a symlink to the tree; inside it, links are entries.
    const info = relative === '' ? await stat(source, { bigint: true }) : await lstat(source, { bigint: true });
    if (relative === '' && !info.isDirectory()) {
      throw new EnvironmentError(`writeOpk: dataDirectory ${root} is not a directory`);
    }
    const name = relative === '' ? './' : `./${relative}${info.isDirectory() ? '/' : ''}`;
    found.push({ name, key: Buffer.from(name, 'utf8'), source, stat: info });
    if (!info.isDirectory()) return;
    for (const child of await readdir(source)) {
      await visit(relative === '' ? child : `${relative}/${child}`, join(source, child));
    }
  };
  await visit('', root);
  found.sort((a, b) => Buffer.compare(a.key, b.key));

  const checker = new EntryChecker({ file: root });
  const firstLinked = new Map<string, string>();
  const entries: DataEntry[] = [];
  for (const { name, source, stat: info } of found) {
    const base = {
      path: name,
      source,
      mode: name === './' ? 0o755 : Number(info.mode & 0o7777n),
      mtime: epoch ?? Number(info.mtimeMs / 1000n),
      size: 0,
    };
    let entry: DataEntry;
    if (info.isDirectory()) {
      entry = { ...base, type: 'directory' };
    } else if (info.isSymbolicLink()) {
      entry = { ...base, type: 'symlink', linkTarget: await readlink(source) };
    } else if (info.isFile()) {
      const inode = `${info.dev}:${info.ino}`;
      const first = info.nlink > 1n ? firstLinked.get(inode) : undefined;
      if (first !== undefined) entry = { ...base, type: 'link', linkTarget: first };
      else {
        if (info.nlink > 1n) firstLinked.set(inode, name);
        entry = { ...base, type: 'file', size: Number(info.size) };
      }
    } else {
      throw new FormatError('opk.unsafe-entry', source, `${specialKind(info)}: a package holds only files, directories and links`);
    }
    checker.check(entry);
    entries.push(entry);
  }
  checker.finish();
  return entries;
}

function specialKind(info: BigIntStats): string {
  if (info.isFIFO()) return 'FIFO';
  if (info.isSocket()) return 'socket';
  if (info.isCharacterDevice()) return 'character device';
  if (info.isBlockDevice()) return 'block device';
  return 'special file';
}

/** The data archive's tar stream, reading each file as its turn comes. */
async function* dataTar(entries: readonly DataEntry[]): AsyncGenerator<Buffer, void, undefined> {
  for (const entry of entries) {
    yield encodeHeader(entry);
    if (entry.type === 'file') {
      yield* fileContent(entry.source, entry.size);
      yield padding(entry.size);
    }
  }
  yield END_OF_ARCHIVE;
}

/** The outer archive's tar stream. */
async function* outerTar(
  controlArchive: Buffer,
  dataPath: string,
  dataSize: number,
  mtime: number,
): AsyncGenerator<Buffer, void, undefined> {
  const debianBinary = Buffer.from('2.0\n');
  const member = (path: string, size: number): Buffer => encodeHeader({ path, type: 'file', mode: 0o644, size, mtime });
  yield member('./debian-binary', debianBinary.length);
  yield debianBinary;
  yield padding(debianBinary.length);
  yield member('./control.tar.gz', controlArchive.length);
  yield controlArchive;
  yield padding(controlArchive.length);
  yield member('./data.tar.gz', dataSize);
  yield* fileContent(dataPath, dataSize);
  yield padding(dataSize);
  yield END_OF_ARCHIVE;
}

/** A file's bytes, which must be exactly the `size` its header announced. */
async function* fileContent(path: string, size: number): AsyncGenerator<Buffer, void, undefined> {
  let read = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (read > size) break;
    yield chunk;
  }
  if (read !== size) throw new EnvironmentError(`${path} changed size while the package was being written`);
}

async function writeGzipFile(path: string, source: AsyncIterable<Buffer>, level: number): Promise<void> {
  await pipeline(source, createGzip({ level }), createWriteStream(path, { flags: 'wx', mode: 0o600 }));
}

async function gzip(blocks: readonly Buffer[], level: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const compressor = createGzip({ level });
  compressor.end(Buffer.concat(blocks));
  for await (const chunk of compressor as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Byte order of UTF-8 names, the same on every machine and locale. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
