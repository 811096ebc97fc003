/**
 * Versions of a source across uploads (include.ts file comment): binaries an
 * older version built and a newer one no longer builds leave the index, an
 * older upload is superseded whole, versions differing only by their epoch
 * have pool files of their own, and a version goes into one distribution.
 * Each time reindex rebuilds the same feeds from the pool.
 */
import { readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { includeEntry } from '../../lib/archive/include.js';
import { reindexArchive } from '../../lib/archive/reindex.js';
import { verifyArchive } from '../../lib/archive/verify.js';
import type { QueueLayout } from '../../lib/layout.js';
import { makeEntry, queueRoot, snapshot, type UploadSpec } from './fixtures.js';

const AMD64 = 'amd64-linux-glibc';
const AMD64_FEED = `feeds/dev/trunk/${AMD64}/all/misc`;
const DOC_FEED = 'feeds/dev/trunk/all/all/doc';

/** Package → Version of a feed. */
async function versionsIn(layout: QueueLayout, feed: string): Promise<Record<string, string>> {
  const text = await readFile(join(layout.archive, feed, 'Packages'), 'utf8');
  const out: Record<string, string> = {};
  for (const stanza of text.split('\n\n').filter((part) => part.trim() !== '')) {
    out[/^Package: (.+)$/m.exec(stanza)?.[1] ?? ''] = /^Version: (.+)$/m.exec(stanza)?.[1] ?? '';
  }
  return out;
}

/** foo at `version`, building foo (amd64) and, with `doc`, foo-doc (all); its source package's Binary says so. */
function foo(sequence: number, version: string, options: { doc?: 'built' | 'failed'; distribution?: string } = {}): UploadSpec {
  const doc = options.doc;
  return {
    sequence,
    source: 'foo',
    version,
    ...(options.distribution === undefined ? {} : { distribution: options.distribution }),
    binaries: doc === undefined ? ['foo'] : ['foo', 'foo-doc'],
    sourceFields: { Binary: doc === undefined ? 'foo' : 'foo, foo-doc' },
    builds: [
      { architecture: AMD64, packages: [{ package: 'foo' }] },
      ...(doc === undefined
        ? []
        : [
            doc === 'built'
              ? { architecture: 'all', packages: [{ package: 'foo-doc', fields: { Section: 'doc' } }] }
              : { architecture: 'all', status: 'failed' as const, error: 'the documentation did not build' },
          ]),
    ],
  };
}

/** Deletes the dev feeds, reindexes, and expects the feeds as they were. */
async function expectReindexReproduces(layout: QueueLayout): Promise<void> {
  const feeds = join(layout.archive, 'feeds');
  const before = await snapshot(feeds);
  await rm(join(feeds, 'dev'), { recursive: true });
  const report = await reindexArchive(layout);
  expect(report.problems).toEqual([]);
  expect(await snapshot(feeds)).toEqual(before);
  expect((await verifyArchive(layout)).problems).toEqual([]);
}

describe('a newer version that no longer builds a binary', () => {
  it('drops the older binary from the index, keeps its pool file, and reindex agrees', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, foo(1, '1.0-1', { doc: 'built' })));
    expect(await versionsIn(layout, DOC_FEED)).toEqual({ 'foo-doc': '1.0-1' });

    const report = await includeEntry(layout, await makeEntry(layout, foo(2, '2.0-1')));
    expect(report.dropped).toEqual([{ package: 'foo-doc', version: '1.0-1', feed: DOC_FEED }]);
    expect(report.feeds).toContain(DOC_FEED);
    expect(await versionsIn(layout, DOC_FEED)).toEqual({});
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ foo: '2.0-1' });
    // Out of the index, not out of the pool: gc collects it after its grace period.
    expect(await readdir(join(layout.archive, 'pool/f/foo'))).toContain('foo-doc_1.0-1_all_all.opk');
    await expectReindexReproduces(layout);
  });

  it('supersedes an older upload whole, even the binary the newer version does not build', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, foo(1, '1.0-1', { doc: 'built' })));
    await includeEntry(layout, await makeEntry(layout, foo(2, '2.0-1')));
    const older = await makeEntry(layout, foo(3, '1.5-1', { doc: 'built' }));
    const report = await includeEntry(layout, older);
    expect(report.installed).toEqual([]);
    expect(report.superseded).toEqual([
      { file: `${older}.opk`, package: 'src-foo', version: '1.5-1', indexedVersion: '2.0-1', feed: 'feeds/dev/trunk/src/all/misc' },
      { file: 'foo-doc_1.5-1_all_all.opk', package: 'foo-doc', version: '1.5-1', indexedVersion: '2.0-1', feed: 'feeds/dev/trunk/src/all/misc' },
      { file: 'foo_1.5-1_amd64-linux-glibc_all.opk', package: 'foo', version: '1.5-1', indexedVersion: '2.0-1', feed: AMD64_FEED },
    ]);
    expect(await versionsIn(layout, DOC_FEED)).toEqual({});
    await expectReindexReproduces(layout);
  });

  it('keeps the older binary while the newer version still builds it but its build failed', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, foo(1, '1.0-1', { doc: 'built' })));
    const report = await includeEntry(layout, await makeEntry(layout, foo(2, '2.0-1', { doc: 'failed' })));
    expect(report.dropped).toEqual([]);
    expect(await versionsIn(layout, DOC_FEED)).toEqual({ 'foo-doc': '1.0-1' });
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ foo: '2.0-1' });
    await expectReindexReproduces(layout);
  });
});

describe('versions that differ by their epoch', () => {
  it('pools 1.0-1 and 1:1.0-1 under names of their own, each listed where it was uploaded', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, foo(1, '1:1.0-1')));
    // The same upstream version without the epoch, into another distribution: not a rebuild of the first.
    const report = await includeEntry(layout, await makeEntry(layout, foo(2, '1.0-1', { distribution: 'rs1' })));
    expect(report.installed.map((file) => [file.file, file.build])).toEqual([
      ['pool/f/foo/foo_1.0-1_amd64-linux-glibc_all.opk', 1],
      ['pool/f/foo/src-foo_1.0-1_src_all.opk', 1],
    ]);
    expect((await readdir(join(layout.archive, 'pool/f/foo'))).sort()).toEqual([
      'foo_1.0-1_amd64-linux-glibc_all.opk',
      'foo_1:1.0-1_amd64-linux-glibc_all.opk',
      'src-foo_1.0-1_src_all.opk',
      'src-foo_1:1.0-1_src_all.opk',
    ]);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ foo: '1:1.0-1' });
    expect(await versionsIn(layout, `feeds/dev/rs1/${AMD64}/all/misc`)).toEqual({ foo: '1.0-1' });
    const trunk = await readFile(join(layout.archive, AMD64_FEED, 'Packages'), 'utf8');
    expect(trunk).toContain('Filename: ../../../../../../pool/f/foo/foo_1:1.0-1_amd64-linux-glibc_all.opk\n');
    await expectReindexReproduces(layout);
  });
});

describe('pool names made before they kept the epoch', () => {
  it('are still read: reindex lists them and verify finds nothing wrong', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, foo(1, '1:1.0-1')));
    const directory = join(layout.archive, 'pool/f/foo');
    for (const name of await readdir(directory)) await rename(join(directory, name), join(directory, name.replace('_1:1.0-1_', '_1.0-1_')));
    await rm(join(layout.archive, 'feeds'), { recursive: true });
    const report = await reindexArchive(layout);
    expect(report.problems).toEqual([]);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ foo: '1:1.0-1' });
    expect(await readFile(join(layout.archive, AMD64_FEED, 'Packages'), 'utf8')).toContain('/pool/f/foo/foo_1.0-1_amd64-linux-glibc_all.opk\n');
    expect((await verifyArchive(layout)).problems).toEqual([]);
  });
});

describe('the same version uploaded into two distributions', () => {
  it('refuses the second upload whole, leaving pool and feeds as they were', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, foo(1, '1.0-1')));
    const before = await snapshot(layout.archive, (path) => path.startsWith('logs/'));
    const key = await makeEntry(layout, foo(2, '1.0-1', { distribution: 'rs1' }));
    const report = await includeEntry(layout, key);
    expect(report.installed).toEqual([]);
    const reason = 'foo 1.0-1 is in the pool from an upload to trunk (pool/f/foo/src-foo_1.0-1_src_all.opk); a version goes into one distribution: upload a version of its own to rs1';
    expect(report.refused).toEqual([
      { file: `${key}.opk`, reason: `${key}.opk: ${reason}` },
      { file: 'foo_1.0-1_amd64-linux-glibc_all.opk', reason: `foo_1.0-1_amd64-linux-glibc_all.opk: ${reason}` },
    ]);
    expect(await snapshot(layout.archive, (path) => path.startsWith('logs/'))).toEqual(before);
    await expectReindexReproduces(layout);

    // Into its own distribution again, the same version is a rebuild, as before.
    const again = await includeEntry(layout, await makeEntry(layout, foo(3, '1.0-1')));
    expect(again.refused).toEqual([]);
    expect(again.installed).toHaveLength(2);
  });
});
