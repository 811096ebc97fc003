/** Crash-safe writes (lib/fs/atomic.ts): whole files under their names, no temporary left behind on failure. */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectorySyncs, writeContentAtomic, writeFileAtomic } from '../../lib/fs/atomic.js';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'opkfarm-atomic-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('writeContentAtomic', () => {
  it('replaces a file whole, with the mode asked for, leaving no temporary name', async () => {
    const file = join(directory, 'Packages');
    await writeFile(file, 'old');
    await writeContentAtomic(file, 'new content\n', { mode: 0o600 });
    expect(await readFile(file, 'utf8')).toBe('new content\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeContentAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    expect(await readdir(directory)).toEqual(['Packages']);
  });

  it('leaves the old file and no temporary one when the write fails', async () => {
    const file = join(directory, 'missing-dir', 'Packages');
    await expect(writeContentAtomic(file, 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFile(join(directory, 'kept'), 'old');
    await expect(writeFileAtomic(join(directory, 'kept'), () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(await readFile(join(directory, 'kept'), 'utf8')).toBe('old');
    expect(await readdir(directory)).toEqual(['kept']);
  });
});

describe('writeFileAtomic', () => {
  it('fsyncs and renames what the callback wrote under the temporary name', async () => {
    const file = join(directory, 'result');
    await writeFileAtomic(file, (temp) => writeFile(temp, 'Status: ok\n'), { mode: 0o640 });
    expect(await readFile(file, 'utf8')).toBe('Status: ok\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(directory)).toEqual(['result']);
  });
});

describe('DirectorySyncs', () => {
  it('fsyncs each directory once, and reports a directory that cannot be', async () => {
    const syncs = new DirectorySyncs();
    syncs.add(directory);
    syncs.add(directory);
    await syncs.flush();
    syncs.add(join(directory, 'gone'));
    await expect(syncs.flush()).rejects.toMatchObject({ code: 'ENOENT' });
    // What failed stays pending: a retry after the cause is fixed syncs it.
    await writeFile(join(directory, 'gone'), '');
    await syncs.flush();
  });
});
