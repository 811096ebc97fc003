/**
 * Helpers for the opk tests: temporary directories, opks assembled from
 * members with the real tools (tar, ar, gzip, xz, bzip2, zstd), and hostile
 * tar archives written with tar-stream, which accepts any header.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Readable } from 'node:stream';

import { execa } from 'execa';
import type { OpkDataEntry } from '../../lib/opk/read.js';
import { type Header, pack as tarPack } from 'tar-stream';
import { afterEach } from 'vitest';

const made: string[] = [];

afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory, removed after the current test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'opkfarm-opk-'));
  made.push(dir);
  return dir;
}

/** Runs a command and returns its stdout as a Buffer; fails the test when it fails. */
export async function run(command: string, args: readonly string[], options: { cwd?: string; input?: Buffer } = {}): Promise<Buffer> {
  const result = await execa(command, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'buffer',
    env: { LC_ALL: 'C', TZ: 'UTC' },
  });
  return Buffer.from(result.stdout);
}

/** Lines printed by a command. */
export async function lines(command: string, args: readonly string[], options: { cwd?: string } = {}): Promise<string[]> {
  return (await run(command, args, options)).toString('utf8').split('\n').filter((line) => line !== '');
}

export type Kind = 'gzip' | 'xz' | 'bzip2' | 'zstd' | 'none';

/** `data` compressed with the real tool. */
export async function compress(data: Buffer, kind: Kind): Promise<Buffer> {
  if (kind === 'none') return data;
  return run(kind, kind === 'zstd' ? ['-c', '-q'] : ['-c'], { input: data });
}

/** One entry for tarOf(): any header tar-stream can write, with optional content. */
export interface FixtureEntry {
  readonly header: Partial<Header> & Pick<Header, 'name'>;
  readonly content?: string | Buffer;
}

/** An uncompressed tar of exactly these entries (mtime 0 unless given). */
export async function tarOf(entries: readonly FixtureEntry[]): Promise<Buffer> {
  const pack = tarPack();
  for (const { header, content } of entries) {
    const full = { mtime: new Date(0), ...header };
    if (content === undefined) pack.entry(full);
    else pack.entry(full, content);
  }
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Shorthands for tarOf() entries. */
export const entry = {
  dir: (name: string): FixtureEntry => ({ header: { name, type: 'directory', mode: 0o755 } }),
  file: (name: string, content: string | Buffer = '', mode = 0o644): FixtureEntry => ({
    header: { name, type: 'file', mode },
    content,
  }),
  symlink: (name: string, target: string): FixtureEntry => ({
    header: { name, type: 'symlink', linkname: target, mode: 0o777 },
  }),
  link: (name: string, target: string): FixtureEntry => ({ header: { name, type: 'link', linkname: target, mode: 0o644 } }),
};

export const CONTROL_TEXT = 'Package: hello\nVersion: 1.0-1\nArchitecture: all\nPlatform: all\nMaintainer: Ann <ann@example.org>\nDescription: says hello\n';

/** A gzip-compressed control archive holding `control` (none when null) and the given extra files. */
export async function controlArchive(extra: readonly FixtureEntry[] = [], control: string | null = CONTROL_TEXT): Promise<Buffer> {
  const entries = [entry.dir('./'), ...(control === null ? [] : [entry.file('./control', control)]), ...extra];
  return compress(await tarOf(entries), 'gzip');
}

/** A data archive with a small tree. */
export async function dataArchive(kind: Kind = 'gzip', entries?: readonly FixtureEntry[]): Promise<Buffer> {
  const tree = entries ?? [
    entry.dir('./'),
    entry.dir('./usr/'),
    entry.dir('./usr/bin/'),
    entry.file('./usr/bin/hello', '#!/bin/sh\necho hello\n', 0o755),
  ];
  return compress(await tarOf(tree), kind);
}

export interface Member {
  readonly name: string;
  readonly content: Buffer;
}

/** The usual three members. */
export async function standardMembers(data?: { name: string; content: Buffer }): Promise<Member[]> {
  return [
    { name: 'debian-binary', content: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', content: await controlArchive() },
    data ?? { name: 'data.tar.gz', content: await dataArchive() },
  ];
}

/**
 * An opk at `<dir>/<fileName>` whose outer archive, made by the real `ar` or
 * `tar`, holds `members` in the given order (tar members are named "./name").
 */
export async function buildOpk(
  dir: string,
  outer: 'ar' | 'tar' | 'tar.gz',
  members: readonly Member[],
  fileName = 'test.opk',
): Promise<string> {
  const staging = join(dir, `members-${fileName}`);
  await execa('mkdir', ['-p', staging]);
  for (const member of members) await writeFile(join(staging, member.name), member.content);
  const path = join(dir, fileName);
  const names = members.map((member) => member.name);
  if (outer === 'ar') await run('ar', ['rc', path, ...names], { cwd: staging });
  else {
    const flags = outer === 'tar' ? '-cf' : '-czf';
    await run('tar', ['--owner=0', '--group=0', '--format=gnu', flags, path, ...names.map((name) => `./${name}`)], { cwd: staging });
  }
  return path;
}

/** The first half of a file, written beside it. */
export async function truncatedCopy(path: string, keep: (size: number) => number = (size) => Math.floor(size / 2)): Promise<string> {
  const content = await readFile(path);
  const copy = `${path}.cut`;
  await writeFile(copy, content.subarray(0, keep(content.length)));
  return copy;
}

/** Names of the live child processes of this process (from /proc), e.g. ["xz"]. */
export async function childProcesses(): Promise<string[]> {
  const names: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
    const close = stat.lastIndexOf(')');
    const ppid = stat.slice(close + 2).split(' ')[1];
    if (Number(ppid) === process.pid) names.push(stat.slice(stat.indexOf('(') + 1, close));
  }
  return names;
}

/** `data` as an async stream of chunks of `size` bytes, so records straddle chunk boundaries. */
export function chunks(data: Buffer, size = 100): AsyncIterable<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts) as AsyncIterable<Buffer>;
}

/** A data entry as tests compare it: everything but the body. */
export type Listed = Omit<OpkDataEntry, 'body'>;

/** The listing fields of a data entry (without touching its body). */
export function listed(entry: OpkDataEntry): Listed {
  const { path, type, size, mode, linkTarget } = entry;
  return linkTarget === undefined ? { path, type, size, mode } : { path, type, size, mode, linkTarget };
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}
