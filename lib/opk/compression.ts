/**
 * Compression of the archives inside an opk: detection by magic bytes (never
 * by file name) and streaming decompression.
 *
 * gzip is inflated in-process with node:zlib; xz, bzip2 and zstd run the
 * system tools (`xz -dc`, `bzip2 -dc`, `zstd -dc`) with data streamed through
 * stdin and stdout, so nothing is held whole in memory.
 *
 * Guarantees: decompress() is an async generator; when it finishes, fails or
 * is returned early (a consumer that stops iterating), the tool it started has
 * exited before it settles: no decompressor is ever left running. A missing
 * tool is an EnvironmentError naming the Debian package to install; corrupt
 * data is FormatError 'opk.decompress', data that ends early 'opk.truncated',
 * both naming the file and member. Errors from the source itself win over the
 * decompressor's complaint about them.
 */
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import { execa, type Result } from 'execa';

import { EnvironmentError, FormatError } from '../errors.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

/** How many leading bytes detectCompression() looks at. */
export const MAGIC_LENGTH = 6;

const MAGICS: ReadonlyArray<readonly [Compression, readonly number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

interface Tool {
  readonly command: string;
  readonly debianPackage: string;
}

const TOOLS: Readonly<Record<'bzip2' | 'xz' | 'zstd', Tool>> = {
  xz: { command: 'xz', debianPackage: 'xz-utils' },
  bzip2: { command: 'bzip2', debianPackage: 'bzip2' },
  zstd: { command: 'zstd', debianPackage: 'zstd' },
};

/** What is being decompressed, for messages: the opk and the member in it. */
export interface DecompressContext {
  readonly file: string;
  readonly member: string;
}

/** The compression of data starting with `head` (at least MAGIC_LENGTH bytes when available). */
export function detectCompression(head: Uint8Array): Compression {
  for (const [compression, magic] of MAGICS) {
    if (head.length >= magic.length && magic.every((byte, index) => head[index] === byte)) return compression;
  }
  return 'none';
}

/**
 * The decompressed bytes of `source`. Iterate to the end, or call return(),
 * so that the decompressor is stopped.
 */
export function decompress(
  compression: Compression,
  source: AsyncIterable<Uint8Array>,
  context: DecompressContext,
): AsyncGenerator<Buffer, void, undefined> {
  switch (compression) {
    case 'none':
      return passThrough(source);
    case 'gzip':
      return gunzip(source, context);
    default:
      return runTool(TOOLS[compression], source, context);
  }
}

async function* passThrough(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  for await (const chunk of source) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
}

async function* gunzip(
  source: AsyncIterable<Uint8Array>,
  context: DecompressContext,
): AsyncGenerator<Buffer, void, undefined> {
  const inflater = createGunzip();
  const feeding = pipeline(source, inflater);
  // Its failure shows up as the inflater's error below; this only keeps it from being unhandled.
  feeding.catch(() => undefined);
  let completed = false;
  try {
    try {
      for await (const chunk of inflater as AsyncIterable<Buffer>) yield chunk;
      await feeding;
    } catch (error) {
      throw gzipError(error, context);
    }
    completed = true;
  } finally {
    if (!completed) {
      inflater.destroy();
      await feeding.catch(() => undefined);
    }
  }
}

/** The FormatError for a zlib error (truncated or corrupt gzip data) in `context`; other errors as they are. */
export function gzipError(error: unknown, context: DecompressContext): unknown {
  if (error instanceof FormatError || error instanceof EnvironmentError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return error;
  const message = (error as Error).message;
  if (code === 'Z_BUF_ERROR') {
    return new FormatError('opk.truncated', context.file, `${context.member}: truncated: gzip data ends early (${message})`);
  }
  return new FormatError('opk.decompress', context.file, `${context.member}: corrupt gzip data: ${message}`);
}

async function* runTool(
  tool: Tool,
  source: AsyncIterable<Uint8Array>,
  context: DecompressContext,
): AsyncGenerator<Buffer, void, undefined> {
  const subprocess = execa(tool.command, ['-dc'], {
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 64 * 1024 },
    reject: false,
    stripFinalNewline: true,
    // The messages are matched below, so they must not be translated.
    env: { LC_ALL: 'C' },
  });
  // What the source itself throws, told apart from stdin plumbing errors (EPIPE when the tool exits early).
  const sourceFailure: { error?: unknown } = {};
  async function* watched(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      yield* source;
    } catch (error) {
      sourceFailure.error = error;
      throw error;
    }
  }
  const feeding = pipeline(watched(), subprocess.stdin).catch(() => undefined);
  let completed = false;
  try {
    for await (const chunk of subprocess.stdout as AsyncIterable<Buffer>) yield chunk;
    const result = await subprocess;
    await feeding;
    if ('error' in sourceFailure) throw sourceFailure.error;
    if (result.failed) throw toolError(tool, result, context);
    completed = true;
  } finally {
    if (!completed) {
      subprocess.kill('SIGKILL');
      subprocess.stdin.destroy();
      await subprocess;
      await feeding;
    }
  }
}

function toolError(tool: Tool, result: Result, context: DecompressContext): Error {
  const { file, member } = context;
  if (result.code === 'ENOENT') {
    return new EnvironmentError(
      `${tool.command} is not installed, and it is needed to decompress ${member} in ${file}: install the Debian package ${tool.debianPackage}`,
    );
  }
  if (result.exitCode === undefined && result.signal === undefined) {
    return new EnvironmentError(`cannot run ${tool.command} to decompress ${member} in ${file}: ${result.shortMessage}`);
  }
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const firstLine = (stderr.split('\n').find((line) => line.trim() !== '') ?? '')
    .replace(/^(xz|bzip2|zstd): /, '')
    .replace(/^(\(stdin\)|\/\*stdin\*\\) ?: /, '')
    .trim();
  const reason =
    firstLine !== '' ? firstLine : result.signal !== undefined ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
  if (/unexpected end of input|ends unexpectedly|premature end/i.test(reason)) {
    return new FormatError('opk.truncated', file, `${member}: truncated: ${tool.command} reports "${reason}"`);
  }
  return new FormatError('opk.decompress', file, `${member}: ${tool.command} -dc failed: ${reason}`);
}
