/**
 * reindexArchive: the dev feeds rebuilt from the pool alone are byte for
 * byte the ones inclusion wrote (a newer version, a rebuild, a Section
 * change, two distributions, a superseded upload), rel snapshots are left
 * alone, orphans are reported and left out, and the lock is waited for.
 */
import { cp, mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { includeEntries, includeEntry } from '../../lib/archive/include.js';
import { archiveLockPath } from '../../lib/archive/lock.js';
import { reindexArchive } from '../../lib/archive/reindex.js';
import { verifyArchive } from '../../lib/archive/verify.js';
import { EnvironmentError } from '../../lib/errors.js';
import type { QueueLayout } from '../../lib/layout.js';
import { makeEntry, queueRoot, snapshot, type UploadSpec } from './fixtures.js';

const AMD64 = 'amd64-linux-glibc';

function hello(sequence: number, version: string, docFields: Record<string, string | undefined> = {}, extra: Record<string, string> = {}): UploadSpec {
  return {
    sequence,
    source: 'hello',
    version,
    builds: [
      { architecture: AMD64, packages: [{ package: 'hello', fields: extra }] },
      { architecture: 'all', packages: [{ package: 'hello-doc', fields: { Section: 'doc', ...docFields } }] },
    ],
  };
}

/** An archive made by inclusion: every case reindex must reproduce. */
async function includedArchive(): Promise<QueueLayout> {
  const layout = await queueRoot();
  // Two uploads as one batch, then one at a time.
  await includeEntries(layout, [
    await makeEntry(layout, hello(1, '1.0-1')),
    await makeEntry(layout, { sequence: 2, source: 'motd', version: '2.0-1', distribution: 'rs1', builds: [{ architecture: 'all', packages: [{ package: 'motd' }] }] }),
  ]);
  // A newer version whose hello-doc leaves section doc for misc.
  await includeEntry(layout, await makeEntry(layout, hello(3, '1.1-1', { Section: undefined })));
  // A rebuild of 1.1-1 with other bytes: hello becomes build 2, the rest is the same file again.
  await includeEntry(layout, await makeEntry(layout, hello(4, '1.1-1', { Section: undefined }, { 'Installed-Size': '12' })));
  // An older upload after the newer: superseded, neither pooled nor indexed.
  await includeEntry(layout, await makeEntry(layout, hello(5, '1.0-0')));
  return layout;
}

describe('reindexArchive', () => {
  it('rebuilds the dev feeds byte for byte from the pool, leaves rel alone, and verify finds them clean', async () => {
    const layout = await includedArchive();
    const feeds = join(layout.archive, 'feeds');
    // A release snapshot (what `archive release` makes): a copy of a dev suite.
    await cp(join(feeds, 'dev', 'trunk'), join(feeds, 'rel', 'r1'), { recursive: true });
    const before = await snapshot(feeds);
    expect(Object.keys(before)).toContain('dev/trunk/all/all/doc/Packages');
    expect(Object.keys(before)).toContain('dev/rs1/src/all/misc/Packages.gz');
    expect(await verifyArchive(layout)).toMatchObject({ problems: [] });

    await rm(join(feeds, 'dev'), { recursive: true });
    const report = await reindexArchive(layout);

    expect(await snapshot(feeds)).toEqual(before);
    expect(report).toMatchObject({ problems: [], unchanged: 0 });
    expect(report.written).toHaveLength(Object.keys(before).filter((name) => name.startsWith('dev/') && name.endsWith('/Packages')).length);
    // Pool: hello 1.0-1, hello 1.1-1 builds 1 and 2, hello-doc twice, src-hello twice, motd, src-motd.
    expect(report.packages).toBe(9);
    const verified = await verifyArchive(layout);
    expect(verified.problems).toEqual([]);
    expect(verified.notes.map((note) => note.file)).toEqual([
      'pool/h/hello/hello-doc_1.0-1_all_all.opk',
      'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk',
      'pool/h/hello/hello_1.1-1_amd64-linux-glibc_all.opk',
      'pool/h/hello/src-hello_1.0-1_src_all.opk',
    ]);

    // Run again: nothing to write.
    expect(await reindexArchive(layout)).toMatchObject({ written: [], unchanged: report.written.length });

    // The compiled module reads on worker threads (from these sources there is no worker to start): the same bytes.
    const compiled = (await import(new URL('../../dist/lib/archive/reindex.js', import.meta.url).href)) as typeof import('../../lib/archive/reindex.js');
    await rm(join(feeds, 'dev'), { recursive: true });
    expect(await compiled.reindexArchive(layout, { threads: 2 })).toMatchObject({ problems: [], written: report.written });
    expect(await snapshot(feeds)).toEqual(before);
  });

  it('reports binaries without their source package and leaves them out', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, hello(1, '1.0-1')));
    await unlink(join(layout.archive, 'pool/h/hello/src-hello_1.0-1_src_all.opk'));
    const report = await reindexArchive(layout);
    expect(report.problems).toEqual([
      {
        file: 'pool/h/hello/hello-doc_1.0-1_all_all.opk',
        problem: 'an orphan: no source package src-hello 1.0-1 with a change log in the pool; not indexed',
      },
      {
        file: 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk',
        problem: 'an orphan: no source package src-hello 1.0-1 with a change log in the pool; not indexed',
      },
    ]);
    expect(report.indexed).toBe(0);
    // The feeds that listed them exist still, empty.
    expect(report.written).toEqual([
      'feeds/dev/trunk/all/all/doc',
      'feeds/dev/trunk/amd64-linux-glibc/all/misc',
      'feeds/dev/trunk/src/all/misc',
    ]);
    expect(await verifyArchive(layout)).toMatchObject({ problems: [] });
  });

  it('waits for another holder of the archive lock, and gives up after the wait', async () => {
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, hello(1, '1.0-1')));
    const before = await snapshot(layout.archive);
    // Another holder: a fresh lock directory, as proper-lockfile makes it.
    await mkdir(archiveLockPath(layout));
    const error = await reindexArchive(layout, { lock: { waitMilliseconds: 300 } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toContain('the archive is locked by another process and was not released within 300 ms');
    expect(await snapshot(layout.archive)).toEqual(before);
  });
});
