/**
 * Suites (release, diff), keep marks and garbage collection of the pool
 * (lib/archive/suites.ts, keeps.ts, gc.ts), on archives made by real
 * inclusions; and all three writers running at once.
 */
import { access, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { collectGarbage, type GcOptions } from '../../lib/archive/gc.js';
import { includeEntry } from '../../lib/archive/include.js';
import { addKeepMark, listKeepMarks, removeKeepMark } from '../../lib/archive/keeps.js';
import { inArchive } from '../../lib/archive/paths.js';
import { diffSuites, listSuites, readSuite, releaseSuite } from '../../lib/archive/suites.js';
import type { QueueLayout } from '../../lib/layout.js';
import { makeEntry, queueRoot, snapshot, type UploadSpec } from './fixtures.js';

const upload = (sequence: number, version: string, extra: Partial<UploadSpec> = {}): UploadSpec => ({
  sequence,
  source: 'hello',
  version,
  builds: [
    { architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }] },
    { architecture: 'all', packages: [{ package: 'hello-doc' }] },
  ],
  ...extra,
});

const OLD = [
  'pool/h/hello/hello-doc_1.0-1_all_all.opk',
  'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk',
  'pool/h/hello/src-hello_1.0-1_src_all.opk',
];
const NEW = [
  'pool/h/hello/hello-doc_1.1-1_all_all.opk',
  'pool/h/hello/hello_1.1-1_amd64-linux-glibc_all.opk',
  'pool/h/hello/src-hello_1.1-1_src_all.opk',
];

/** Collects with nothing kept but what is indexed, unless `options` says more. */
const gcOptions = (options: Partial<GcOptions> = {}): GcOptions => ({ keepBuilds: 0, graceSeconds: 0, maxDeletions: 1000, dryRun: false, ...options });

async function poolFiles(layout: QueueLayout): Promise<string[]> {
  return Object.keys(await snapshot(join(layout.archive, 'pool'))).map((name) => `pool/${name}`);
}

/** hello 1.0-1 then 1.1-1 included: the 1.0-1 files are in the pool, no index lists them. */
async function archiveWithOldVersion(): Promise<QueueLayout> {
  const layout = await queueRoot();
  await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
  await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1')));
  return layout;
}

async function everyIndexedFileExists(layout: QueueLayout): Promise<void> {
  for (const suite of await listSuites(layout)) {
    for (const entry of await readSuite(layout, suite)) {
      await expect(access(inArchive(layout, entry.pool)), `${suite}: ${entry.pool}`).resolves.toBeUndefined();
    }
  }
}

describe('releaseSuite and diffSuites', () => {
  it('snapshots dev/trunk into rel/rs1, sharing the pool, and never rewrites it', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
    const pool = await snapshot(join(layout.archive, 'pool'));
    expect(await releaseSuite(layout, 'dev/trunk', 'rel/rs1')).toBe(3);
    expect(await listSuites(layout)).toEqual(['dev/trunk', 'rel/rs1']);

    const dev = await snapshot(join(layout.archive, 'feeds/dev/trunk'));
    const rel = await snapshot(join(layout.archive, 'feeds/rel/rs1'), (path) => path === 'Release');
    expect(rel).toEqual(dev);
    expect(await readFile(join(layout.archive, 'feeds/rel/rs1/Release'), 'utf8')).toMatch(/^Suite: rel\/rs1\nReleased-From: dev\/trunk\nDate: \S+\nFeeds: 3\n$/);
    expect(await snapshot(join(layout.archive, 'pool'))).toEqual(pool);
    expect((await readSuite(layout, 'rel/rs1')).map((entry) => entry.pool).sort()).toEqual(OLD);
    await everyIndexedFileExists(layout);

    await expect(releaseSuite(layout, 'dev/trunk', 'rel/rs1')).rejects.toMatchObject({
      code: 'archive.suite-exists',
      message: 'rel/rs1: already released; a release is a static snapshot and is never rewritten',
    });
    await expect(releaseSuite(layout, 'dev/nope', 'rel/rs2')).rejects.toMatchObject({ code: 'archive.no-suite' });
    await expect(releaseSuite(layout, 'dev/trunk', 'dev/other')).rejects.toMatchObject({ code: 'archive.bad-suite' });
    await expect(releaseSuite(layout, 'dev/trunk', 'rel/../x')).rejects.toMatchObject({ code: 'archive.bad-suite' });
    expect((await readdir(join(layout.archive, 'feeds/rel'))).sort()).toEqual(['rs1']);
  });

  it('shows what a staging suite has that the release lacks, and the reverse', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
    await releaseSuite(layout, 'dev/trunk', 'rel/rs1');
    expect(await diffSuites(layout, 'dev/trunk', 'rel/rs1')).toEqual([]);
    await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1')));
    await includeEntry(
      layout,
      await makeEntry(layout, { sequence: 3, source: 'world', version: '2.0', builds: [{ architecture: 'all', packages: [{ package: 'world' }] }] }),
    );
    expect(await diffSuites(layout, 'dev/trunk', 'rel/rs1')).toEqual([
      { package: 'hello', architecture: 'amd64-linux-glibc', platform: 'all', a: '1.1-1', b: '1.0-1' },
      { package: 'hello-doc', architecture: 'all', platform: 'all', a: '1.1-1', b: '1.0-1' },
      { package: 'src-hello', architecture: 'src', platform: 'all', a: '1.1-1', b: '1.0-1' },
      { package: 'src-world', architecture: 'src', platform: 'all', a: '2.0', b: undefined },
      { package: 'world', architecture: 'all', platform: 'all', a: '2.0', b: undefined },
    ]);
    await expect(diffSuites(layout, 'dev/trunk', 'rel/rs9')).rejects.toMatchObject({ code: 'archive.no-suite', message: 'rel/rs9: no such suite' });
  });
});

describe('collectGarbage', () => {
  it('deletes what no index lists, binaries first, their source in a second pass, and frees the space', async () => {
    const layout = await archiveWithOldVersion();
    const feeds = await snapshot(join(layout.archive, 'feeds'));
    const sizes = await Promise.all(OLD.map(async (pool) => (await stat(inArchive(layout, pool))).size));

    const dry = await collectGarbage(layout, gcOptions({ dryRun: true }));
    expect(await poolFiles(layout)).toEqual([...NEW, ...OLD].sort());

    const report = await collectGarbage(layout, gcOptions());
    expect(report).toEqual(dry);
    expect(report.collected.map((file) => [file.pool, file.pass])).toEqual([
      [OLD[0], 1],
      [OLD[1], 1],
      [OLD[2], 2],
    ]);
    expect(report.passes).toBe(2);
    expect(report.freedBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(report.kept.indexed).toBe(3);
    expect(report.orphans).toEqual([]);
    expect(await poolFiles(layout)).toEqual(NEW);
    expect(await snapshot(join(layout.archive, 'feeds'))).toEqual(feeds);
    await everyIndexedFileExists(layout);
    expect((await collectGarbage(layout, gcOptions())).collected).toEqual([]);
  });

  it('keeps a marked package version, and its source with it, until the mark goes', async () => {
    const layout = await archiveWithOldVersion();
    expect(await addKeepMark(layout, 'hello', '1.0-1')).toBe(true);
    expect(await addKeepMark(layout, 'hello', '1.0-1')).toBe(false);
    expect(await listKeepMarks(layout)).toEqual([{ package: 'hello', version: '1.0-1' }]);
    const report = await collectGarbage(layout, gcOptions());
    expect(report.collected.map((file) => file.pool)).toEqual([OLD[0]]);
    expect(report.kept).toMatchObject({ 'keep-mark': 1, 'source-of-binary': 1 });
    expect(await removeKeepMark(layout, 'hello', '1.0-1')).toBe(true);
    expect(await removeKeepMark(layout, 'hello', '1.0-1')).toBe(false);
    expect((await collectGarbage(layout, gcOptions())).collected.map((file) => file.pool)).toEqual([OLD[1], OLD[2]]);
    await expect(addKeepMark(layout, '../x', '1')).rejects.toMatchObject({ code: 'archive.bad-package' });
  });

  it('keeps an unreferenced file for the grace period, counted from the first run that saw it', async () => {
    const layout = await archiveWithOldVersion();
    const start = new Date('2026-11-21T12:00:00Z');
    const at = (minutes: number) => gcOptions({ graceSeconds: 3600, now: new Date(start.getTime() + minutes * 60_000) });
    expect((await collectGarbage(layout, at(0))).kept.grace).toBe(3);
    // A dry run later records nothing: the grace still counts from the first real run.
    expect((await collectGarbage(layout, { ...at(30), dryRun: true })).collected).toEqual([]);
    expect((await collectGarbage(layout, at(59))).collected).toEqual([]);
    expect((await collectGarbage(layout, at(61))).collected.map((file) => file.pool)).toEqual(OLD);
  });

  it('keeps the newest builds of each package when told to, and caps deletions per run', async () => {
    const layout = await archiveWithOldVersion();
    expect((await collectGarbage(layout, gcOptions({ keepBuilds: 2 }))).collected).toEqual([]);
    const capped = await collectGarbage(layout, gcOptions({ keepBuilds: 1, maxDeletions: 1 }));
    expect(capped.collected.map((file) => file.pool)).toEqual([OLD[0]]);
    expect(capped.capped).toBe(true);
    expect((await collectGarbage(layout, gcOptions({ keepBuilds: 1 }))).collected.map((file) => file.pool)).toEqual([OLD[1], OLD[2]]);
  });

  it('keeps what a release still lists', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
    await releaseSuite(layout, 'dev/trunk', 'rel/rs1');
    await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1')));
    expect((await collectGarbage(layout, gcOptions())).collected).toEqual([]);
    expect(await poolFiles(layout)).toEqual([...NEW, ...OLD].sort());
  });

  it('reports orphans (never listed) and names the pool never makes, and never deletes the latter', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
    await mkdir(inArchive(layout, 'pool/z/zzz'), { recursive: true });
    await writeFile(inArchive(layout, 'pool/z/zzz/zzz_1_all_all.opk'), 'placed by hand');
    await writeFile(inArchive(layout, 'pool/z/zzz/notes.txt'), 'not a package');
    const dry = await collectGarbage(layout, gcOptions({ graceSeconds: 3600, dryRun: true }));
    expect(dry.orphans).toEqual(['pool/z/zzz/zzz_1_all_all.opk']);
    expect(dry.unrecognised).toEqual(['pool/z/zzz/notes.txt']);
    const report = await collectGarbage(layout, gcOptions());
    expect(report.collected).toEqual([{ pool: 'pool/z/zzz/zzz_1_all_all.opk', size: 14, pass: 1, orphan: true }]);
    expect(await readdir(inArchive(layout, 'pool/z/zzz'))).toEqual(['notes.txt']);
  });
});

describe('gc, release and inclusion at the same time', () => {
  it('lose no package and leave no index pointing at a missing file', async () => {
    const layout = await archiveWithOldVersion();
    const world = await makeEntry(layout, { sequence: 3, source: 'world', version: '2.0', builds: [{ architecture: 'all', packages: [{ package: 'world' }] }] });
    const hello = await makeEntry(layout, upload(4, '1.2-1'));
    await Promise.all([
      collectGarbage(layout, gcOptions()),
      includeEntry(layout, world),
      releaseSuite(layout, 'dev/trunk', 'rel/rs1'),
      collectGarbage(layout, gcOptions()),
      includeEntry(layout, hello),
    ]);
    await everyIndexedFileExists(layout);
    const dev = (await readSuite(layout, 'dev/trunk')).map((entry) => `${entry.package} ${entry.version}`).sort();
    expect(dev).toEqual(['hello 1.2-1', 'hello-doc 1.2-1', 'src-hello 1.2-1', 'src-world 2.0', 'world 2.0']);
    // Whatever order the lock gave them, a last collection leaves exactly what some suite lists.
    await collectGarbage(layout, gcOptions());
    const listed = new Set<string>();
    for (const suite of await listSuites(layout)) for (const entry of await readSuite(layout, suite)) listed.add(entry.pool);
    expect(await poolFiles(layout)).toEqual([...listed].sort());
    await everyIndexedFileExists(layout);
  });
});
