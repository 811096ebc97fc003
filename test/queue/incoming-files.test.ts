/**
 * Files of incoming/ as accept copies them and later removes them
 * (lib/queue/incoming-files.ts): the copy is checked against the listed
 * SHA-256, and a file is taken for the copied one, without being read again,
 * only while it is the same inode with the same size and change time.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyVerified, holdsAcceptedContent } from '../../lib/queue/incoming-files.js';

const CONTENT = 'the source package\n';
const SHA256 = createHash('sha256').update(CONTENT).digest('hex');
const OTHER_SHA256 = createHash('sha256').update('something else\n').digest('hex');

let directory: string;
let upload: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'opkfarm-incoming-files-'));
  upload = join(directory, 'pkg_1.0.opk');
  await writeFile(upload, CONTENT);
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('copyVerified', () => {
  it('copies a file whose SHA-256 is the listed one', async () => {
    await copyVerified(upload, join(directory, 'copy'), SHA256);
    expect(await readFile(join(directory, 'copy'), 'utf8')).toBe(CONTENT);
  });

  it('refuses, naming the file, one whose SHA-256 is not, and keeps no copy', async () => {
    await expect(copyVerified(upload, join(directory, 'copy'), OTHER_SHA256)).rejects.toThrow(/^pkg_1\.0\.opk: changed while being accepted/);
    await expect(readFile(join(directory, 'copy'))).rejects.toThrow(/ENOENT/);
  });
});

describe('holdsAcceptedContent', () => {
  it('takes the copied file, untouched, for the accepted one without reading it again', async () => {
    const copied = await copyVerified(upload, join(directory, 'copy'), SHA256);
    // A wrong digest shows that the identity decided: the content was not hashed.
    expect(await holdsAcceptedContent(upload, OTHER_SHA256, copied)).toBe(true);
  });

  it('reads a file touched since the copy, even with the same bytes', async () => {
    const copied = await copyVerified(upload, join(directory, 'copy'), SHA256);
    await sleep(20); // past the filesystem's timestamp granularity
    await utimes(upload, new Date(0), new Date(0));
    expect(await holdsAcceptedContent(upload, OTHER_SHA256, copied)).toBe(false);
    expect(await holdsAcceptedContent(upload, SHA256, copied)).toBe(true);
  });

  it('reads a file replaced since the copy: a new upload under the same name is not the accepted one', async () => {
    const copied = await copyVerified(upload, join(directory, 'copy'), SHA256);
    await writeFile(join(directory, 'new'), 'a new upload\n');
    await rename(join(directory, 'new'), upload);
    expect(await holdsAcceptedContent(upload, SHA256, copied)).toBe(false);
  });

  it('without a copy, compares the content', async () => {
    expect(await holdsAcceptedContent(upload, SHA256, undefined)).toBe(true);
    expect(await holdsAcceptedContent(upload, OTHER_SHA256, undefined)).toBe(false);
  });
});
