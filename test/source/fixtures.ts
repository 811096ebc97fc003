/**
 * Helpers for the source package tests: temporary directories, copies of the
 * sample source packages of examples/, and independent readers of what a
 * source build wrote (tar-stream for headers, GNU tar for listings).
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { execa } from 'execa';
import { extract as tarExtract, type Header } from 'tar-stream';
import { afterEach } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import type { Stanza } from '../../lib/formats/control.js';
import { readOpk, type OpkDataEntry } from '../../lib/opk/read.js';

/** The repository root and its sample source packages. */
export const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLES = join(REPOSITORY, 'examples');

export type Example = 'hello' | 'libgreet' | 'motd-banner';

const made: string[] = [];

afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory, removed after the current test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'opkfarm-source-'));
  made.push(dir);
  return dir;
}

/** A copy of a sample source package (modes kept) in a fresh temporary directory. */
export async function copyExample(example: Example): Promise<string> {
  const copy = join(await tempDir(), example);
  await cp(join(EXAMPLES, example), copy, { recursive: true });
  return copy;
}

/** One member of a tar archive, read with tar-stream. */
export interface TarMember {
  readonly header: Header;
  readonly content: Buffer;
}

/** The members of a gzip-compressed tar, in archive order. */
export async function tarMembers(gzipped: Buffer): Promise<TarMember[]> {
  const extract = tarExtract();
  extract.end(gunzipSync(gzipped));
  const members: TarMember[] = [];
  for await (const item of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of item) chunks.push(chunk as Buffer);
    members.push({ header: item.header, content: Buffer.concat(chunks) });
  }
  return members;
}

/** The headers of an opk's outer archive, control archive and data archive. */
export async function opkHeaders(opk: string): Promise<{ outer: Header[]; control: Header[]; data: Header[] }> {
  const outer = await tarMembers(await readFile(opk));
  const member = (name: string): Buffer => {
    const found = outer.find((entry) => entry.header.name === name);
    if (!found) throw new Error(`${opk}: no member ${name}`);
    return found.content;
  };
  return {
    outer: outer.map((entry) => entry.header),
    control: (await tarMembers(member('./control.tar.gz'))).map((entry) => entry.header),
    data: (await tarMembers(member('./data.tar.gz'))).map((entry) => entry.header),
  };
}

/** A data entry as readOpk reports it, without its body. */
export type ListedEntry = Omit<OpkDataEntry, 'body'>;

/** readOpk's control stanza and data entries. */
export async function readOpkListing(opk: string): Promise<{ control: Stanza; entries: ListedEntry[] }> {
  const entries: ListedEntry[] = [];
  const contents = await readOpk(opk, {
    onDataEntry: ({ body: _body, ...entry }) => void entries.push(entry),
  });
  return { control: contents.control, entries };
}

/** What GNU tar lists in a gzip-compressed tar, names as stored. */
export async function gnuTarList(archive: string): Promise<string[]> {
  const { stdout } = await execa('tar', ['-tzf', archive], { env: { LC_ALL: 'C' } });
  return stdout.split('\n').filter((line) => line !== '');
}

/** A tar name as readOpk normalises it: no leading "./", no trailing "/", "." for the root. */
export function normalisedName(name: string): string {
  const path = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return path === '' ? '.' : path;
}

/** The FormatError a promise rejects with; fails when it resolves or rejects with anything else. */
export async function formatErrorOf(promise: Promise<unknown>): Promise<FormatError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FormatError) return error;
    throw error;
  }
  throw new Error('expected a FormatError, but the promise resolved');
}
