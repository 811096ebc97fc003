/**
 * includeEntry (PIPELINE.md step 4): pool and feed paths and contents, logs,
 * what is refused or superseded, failed builds, incomplete entries,
 * restarting after a kill at every step, the lock, and the installed mail.
 */
import { access, mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { FeedCache, includeEntries, includeEntry, removeIncludedEntries, type InclusionReport, type InclusionStep } from '../../lib/archive/include.js';
import { pendingArchiveEntries } from '../../lib/archive/entry.js';
import { InclusionError } from '../../lib/archive/errors.js';
import type { QueueLayout } from '../../lib/layout.js';
import type { Mailer } from '../../lib/mail/mailer.js';
import { mailSettings, type Notice } from '../../lib/mail/messages.js';
import { DESCRIPTION, digests, makeEntry, MAINTAINER, queueRoot, snapshot, type UploadSpec } from './fixtures.js';

const HELLO: UploadSpec = {
  sequence: 1,
  source: 'hello',
  version: '1.0-1',
  builds: [
    { architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }] },
    { architecture: 'all', packages: [{ package: 'hello-doc', fields: { Section: 'doc' } }] },
  ],
};
const KEY = '0000000001_hello_1.0-1';
const AMD64_FEED = 'feeds/dev/trunk/amd64-linux-glibc/all/misc';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function packagesOf(layout: QueueLayout, feed: string): Promise<string> {
  return readFile(join(layout.archive, feed, 'Packages'), 'utf8');
}

/** Package → Version of a feed. */
async function versionsIn(layout: QueueLayout, feed: string): Promise<Record<string, string>> {
  const text = await packagesOf(layout, feed);
  const out: Record<string, string> = {};
  for (const stanza of text.split('\n\n').filter((part) => part.trim() !== '')) {
    const pkg = /^Package: (.+)$/m.exec(stanza)?.[1] ?? '';
    out[pkg] = /^Version: (.+)$/m.exec(stanza)?.[1] ?? '';
  }
  return out;
}

describe('includeEntry: a complete entry', () => {
  it('pools every package at its exact path, indexes it in its feed, stores the logs and removes the entry', async () => {
    const layout = await queueRoot();
    const key = await makeEntry(layout, HELLO);
    expect(key).toBe(KEY);
    const entryLog = await readFile(join(layout.archiveQueueEntry(key), 'amd64-linux-glibc_all.log'), 'utf8');
    const entryChanges = await readFile(join(layout.archiveQueueEntry(key), `${key}.changes`), 'utf8');
    const entryResult = await readFile(join(layout.archiveQueueEntry(key), 'all_all.result'), 'utf8');

    const report = await includeEntry(layout, key);

    const pool = {
      hello: 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk',
      doc: 'pool/h/hello/hello-doc_1.0-1_all_all.opk',
      source: 'pool/h/hello/src-hello_1.0-1_src_all.opk',
    };
    const sizes = {
      hello: (await digests(join(layout.archive, pool.hello))).size,
      doc: (await digests(join(layout.archive, pool.doc))).size,
      source: (await digests(join(layout.archive, pool.source))).size,
    };
    expect(report).toEqual<InclusionReport>({
      key,
      source: 'hello',
      version: '1.0-1',
      distribution: 'trunk',
      suite: 'dev/trunk',
      installed: [
        { file: pool.doc, package: 'hello-doc', version: '1.0-1', architecture: 'all', platform: 'all', size: sizes.doc, build: 1 },
        { file: pool.hello, package: 'hello', version: '1.0-1', architecture: 'amd64-linux-glibc', platform: 'all', size: sizes.hello, build: 1 },
        { file: pool.source, package: 'src-hello', version: '1.0-1', architecture: 'src', platform: 'all', size: sizes.source, build: 1 },
      ],
      refused: [],
      superseded: [],
      dropped: [],
      failedBuilds: [],
      feeds: ['feeds/dev/trunk/all/all/doc', AMD64_FEED, 'feeds/dev/trunk/src/all/misc'],
    });
    expect((await readdir(join(layout.archive, 'pool/h/hello'))).sort()).toEqual([
      'hello-doc_1.0-1_all_all.opk',
      'hello_1.0-1_amd64-linux-glibc_all.opk',
      'src-hello_1.0-1_src_all.opk',
    ]);

    // The exact stanza, field by field, with Filename resolving to the pool file from the feed directory.
    const hello = await digests(join(layout.archive, pool.hello));
    const feedDir = join(layout.archive, AMD64_FEED);
    const filename = '../../../../../../pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk';
    expect(resolve(feedDir, filename)).toBe(join(layout.archive, pool.hello));
    const packages = await packagesOf(layout, AMD64_FEED);
    expect(packages).toBe(
      [
        'Package: hello',
        'Version: 1.0-1',
        'Architecture: amd64-linux-glibc',
        'Platform: all',
        `Maintainer: ${MAINTAINER}`,
        `Description: ${DESCRIPTION}`,
        `Filename: ${filename}`,
        `Size: ${hello.size}`,
        `MD5Sum: ${hello.md5}`,
        `SHA256sum: ${hello.sha256}`,
        '',
      ].join('\n'),
    );
    expect(gunzipSync(await readFile(join(feedDir, 'Packages.gz'))).toString('utf8')).toBe(packages);

    for (const [feed, file, pkg] of [
      ['feeds/dev/trunk/all/all/doc', pool.doc, 'hello-doc'],
      ['feeds/dev/trunk/src/all/misc', pool.source, 'src-hello'],
    ] as const) {
      const text = await packagesOf(layout, feed);
      const found = await digests(join(layout.archive, file));
      expect(text).toMatch(new RegExp(`^Package: ${pkg}\n`));
      const named = /^Filename: (.+)$/m.exec(text)?.[1] ?? '';
      expect(resolve(join(layout.archive, feed), named)).toBe(join(layout.archive, file));
      expect(text).toContain(`\nSize: ${found.size}\nMD5Sum: ${found.md5}\nSHA256sum: ${found.sha256}\n`);
      expect(gunzipSync(await readFile(join(layout.archive, feed, 'Packages.gz'))).toString('utf8')).toBe(text);
    }
    expect(await packagesOf(layout, 'feeds/dev/trunk/all/all/doc')).toContain('Package: hello-doc\nSource: hello\nVersion: 1.0-1\n');

    // Logs, results and the .changes stored; the entry and its temporary name are gone.
    const logs = join(layout.archive, 'logs/hello');
    expect((await readdir(logs)).sort()).toEqual([
      `${key}.changes`,
      `${key}_all_all.log`,
      `${key}_all_all.result`,
      `${key}_amd64-linux-glibc_all.log`,
      `${key}_amd64-linux-glibc_all.result`,
    ]);
    expect(await readFile(join(logs, `${key}_amd64-linux-glibc_all.log`), 'utf8')).toBe(entryLog);
    expect(await readFile(join(logs, `${key}_all_all.result`), 'utf8')).toBe(entryResult);
    expect(await readFile(join(logs, `${key}.changes`), 'utf8')).toBe(entryChanges);
    expect(await readdir(layout.archiveQueue)).toEqual([]);
    expect(await readdir(layout.tmp)).toEqual([]);
  });

  it('hashes lib* sources by their first four letters', async () => {
    const layout = await queueRoot();
    const key = await makeEntry(layout, {
      sequence: 7,
      source: 'libfoo',
      version: '2:1.2-3',
      builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'libfoo1' }] }],
    });
    expect(key).toBe('0000000007_libfoo_1.2-3');
    const report = await includeEntry(layout, key);
    expect(report.version).toBe('2:1.2-3');
    expect(report.installed.map((file) => file.file)).toEqual([
      'pool/libf/libfoo/libfoo1_2:1.2-3_amd64-linux-glibc_all.opk',
      'pool/libf/libfoo/src-libfoo_2:1.2-3_src_all.opk',
    ]);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ libfoo1: '2:1.2-3' });
  });
});

describe('includeEntry: versions in a feed', () => {
  it('lets a newer version replace the indexed stanza and reports an older one as superseded', async () => {
    const layout = await queueRoot();
    const upload = (sequence: number, version: string): UploadSpec => ({
      sequence,
      source: 'hello',
      version,
      builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }, { package: 'hello-bin' }] }],
    });
    await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
    await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1')));
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ hello: '1.1-1', 'hello-bin': '1.1-1' });
    expect(Object.keys(await versionsIn(layout, AMD64_FEED))).toEqual(['hello', 'hello-bin']);
    expect(await versionsIn(layout, 'feeds/dev/trunk/src/all/misc')).toEqual({ 'src-hello': '1.1-1' });
    // The old pool file stays for mirrors; only the index moved on.
    expect(await exists(join(layout.archive, 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk'))).toBe(true);

    const before = await snapshot(layout.archive, (path) => path.startsWith('logs/'));
    const older = await makeEntry(layout, upload(3, '1.0-5'));
    const report = await includeEntry(layout, older);
    expect(report.installed).toEqual([]);
    expect(report.feeds).toEqual([]);
    expect(report.superseded).toEqual([
      { file: `${older}.opk`, package: 'src-hello', version: '1.0-5', indexedVersion: '1.1-1', feed: 'feeds/dev/trunk/src/all/misc' },
      { file: 'hello-bin_1.0-5_amd64-linux-glibc_all.opk', package: 'hello-bin', version: '1.0-5', indexedVersion: '1.1-1', feed: AMD64_FEED },
      { file: 'hello_1.0-5_amd64-linux-glibc_all.opk', package: 'hello', version: '1.0-5', indexedVersion: '1.1-1', feed: AMD64_FEED },
    ]);
    // Neither pooled nor indexed: the archive is as it was (but for the stored logs).
    expect(await snapshot(layout.archive, (path) => path.startsWith('logs/'))).toEqual(before);
    expect(await readdir(layout.archiveQueue)).toEqual([]);

    // The same version again (a rebuild with the same bytes) replaces the stanza with itself.
    const again = await includeEntry(layout, await makeEntry(layout, upload(4, '1.1-1')));
    expect(again.installed).toHaveLength(3);
    expect(await snapshot(layout.archive, (path) => path.startsWith('logs/'))).toEqual(before);
  });

  it('moves a package whose Section changed out of its old section feed', async () => {
    const layout = await queueRoot();
    const upload = (sequence: number, version: string, section: string): UploadSpec => ({
      sequence,
      source: 'hello',
      version,
      builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello', fields: { Section: section } }] }],
    });
    await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1', 'utils')));
    expect(await versionsIn(layout, 'feeds/dev/trunk/amd64-linux-glibc/all/utils')).toEqual({ hello: '1.0-1' });
    const report = await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1', 'net')));
    expect(report.feeds).toEqual(['feeds/dev/trunk/amd64-linux-glibc/all/net', 'feeds/dev/trunk/amd64-linux-glibc/all/utils', 'feeds/dev/trunk/src/all/misc']);
    expect(await versionsIn(layout, 'feeds/dev/trunk/amd64-linux-glibc/all/net')).toEqual({ hello: '1.1-1' });
    expect(await packagesOf(layout, 'feeds/dev/trunk/amd64-linux-glibc/all/utils')).toBe('');
    expect(gunzipSync(await readFile(join(layout.archive, 'feeds/dev/trunk/amd64-linux-glibc/all/utils/Packages.gz')))).toHaveLength(0);
  });
});

describe('includeEntry: refused packages', () => {
  it('refuses a binary with ".." in its data, with the reason, and includes the rest', async () => {
    const layout = await queueRoot();
    const key = await makeEntry(layout, {
      sequence: 1,
      source: 'hello',
      version: '1.0-1',
      builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }, { package: 'hello-evil', unsafe: true }] }],
    });
    const report = await includeEntry(layout, key);
    const evil = 'hello-evil_1.0-1_amd64-linux-glibc_all.opk';
    expect(report.refused).toEqual([{ file: evil, reason: `${evil}: data.tar.gz: entry "./../escape": path has a ".." component` }]);
    expect(report.installed.map((file) => file.package)).toEqual(['hello', 'src-hello']);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ hello: '1.0-1' });
    expect(await readdir(join(layout.archive, 'pool/h/hello'))).not.toContain(evil);
    expect(await readdir(layout.archiveQueue)).toEqual([]);
  });

  it('refuses a binary whose control disagrees with the upload or build', async () => {
    const layout = await queueRoot();
    const key = await makeEntry(layout, {
      sequence: 1,
      source: 'hello',
      version: '1.0-1',
      binaries: ['hello', 'hello-a', 'hello-b', 'hello-c', 'hello-d', 'hello-e', 'src-hello'],
      builds: [
        {
          architecture: 'amd64-linux-glibc',
          packages: [
            { package: 'hello', fields: { Version: '1.0-2' } },
            { package: 'hello-a', fields: { Architecture: 'all' } },
            { package: 'hello-b', fields: { Platform: 'dev' } },
            { package: 'hello-c', fields: { Source: 'other' } },
            { package: 'hello-d', fields: { Section: 'net/extra' } },
            { package: 'hello-e' },
            { package: 'hello-x' },
            { package: 'src-hello', fileName: 'src-hello_1.0-1_amd64-linux-glibc_all.opk' },
          ],
        },
      ],
    });
    const report = await includeEntry(layout, key);
    const name = (pkg: string): string => `${pkg}_1.0-1_amd64-linux-glibc_all.opk`;
    expect(report.refused).toEqual([
      { file: name('hello-a'), reason: `${name('hello-a')}: Architecture "all" is not the build's architecture "amd64-linux-glibc"` },
      { file: name('hello-b'), reason: `${name('hello-b')}: Platform "dev" is not the build's platform "all"` },
      { file: name('hello-c'), reason: `${name('hello-c')}: Source "other" is not the upload's source "hello"` },
      { file: name('hello-d'), reason: `${name('hello-d')}: Section "net/extra" is not a section name ([a-z0-9][a-z0-9+.-]*)` },
      {
        file: name('hello-x'),
        reason: `${name('hello-x')}: Package "hello-x" is not a binary of this upload (the .changes lists hello, hello-a, hello-b, hello-c, hello-d, hello-e, src-hello)`,
      },
      { file: name('hello'), reason: `${name('hello')}: Version "1.0-2" is not the upload's version "1.0-1"` },
      { file: name('src-hello'), reason: `${name('src-hello')}: Package "src-hello" uses the prefix "src-", reserved for source packages` },
    ]);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ 'hello-e': '1.0-1' });
    expect((await readdir(join(layout.archive, 'pool/h/hello'))).sort()).toEqual([name('hello-e'), 'src-hello_1.0-1_src_all.opk']);
  });

  it('refuses files no successful build lists and a source package that does not fit', async () => {
    const layout = await queueRoot();
    const key = await makeEntry(layout, {
      sequence: 1,
      source: 'hello',
      version: '1.0-1',
      builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }], listed: ['hello_1.0-1_amd64-linux-glibc_all.opk', 'gone.opk'] }],
      sourceFields: { Architecture: 'all' },
    });
    await writeFile(join(layout.archiveQueueEntry(key), 'stray_1.0_all_all.opk'), 'not listed');
    const report = await includeEntry(layout, key);
    expect(report.refused).toEqual([
      { file: `${key}.opk`, reason: `${key}.opk: Architecture "all" is not the architecture of source packages "src"` },
      { file: 'gone.opk', reason: 'gone.opk: listed by amd64-linux-glibc_all.result but not in the entry' },
      { file: 'stray_1.0_all_all.opk', reason: 'stray_1.0_all_all.opk: not listed by any successful build result' },
    ]);
    expect(report.installed.map((file) => file.package)).toEqual(['hello']);
    expect(await exists(join(layout.archive, 'feeds/dev/trunk/src'))).toBe(false);
  });

  it('pools a rebuild with other bytes as the next build, indexes it, and keeps the earlier build', async () => {
    const layout = await queueRoot();
    const pool = join(layout.archive, 'pool/h/hello');
    const first = join(pool, 'hello_1.0-1_amd64-linux-glibc_all.opk');
    await mkdir(pool, { recursive: true });
    await writeFile(first, 'an earlier, different build');
    const report = await includeEntry(layout, await makeEntry(layout, HELLO));
    expect(report.refused).toEqual([]);
    const hello = report.installed.find((file) => file.package === 'hello');
    expect(hello).toMatchObject({ file: 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all_b2.opk', build: 2 });
    expect(report.installed.filter((file) => file.package !== 'hello').map((file) => file.build)).toEqual([1, 1]);
    expect(await readFile(first, 'utf8')).toBe('an earlier, different build');
    const index = await packagesOf(layout, AMD64_FEED);
    expect(index).toContain('Filename: ../../../../../../pool/h/hello/hello_1.0-1_amd64-linux-glibc_all_b2.opk\n');
    expect(index).not.toContain('hello_1.0-1_amd64-linux-glibc_all.opk');

    // A third build of the same version; then the second build's bytes again: the newest build is always
    // the highest number, so they become build 4; and once more, which finds build 4 in place (a retry).
    const third = await includeEntry(layout, await makeEntry(layout, { ...HELLO, sequence: 2, builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello', fields: { Description: 'third build' } }] }] }));
    expect(third.installed.find((file) => file.package === 'hello')?.build).toBe(3);
    const again = await includeEntry(layout, await makeEntry(layout, { ...HELLO, sequence: 3 }));
    expect(again.installed.find((file) => file.package === 'hello')).toMatchObject({ file: 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all_b4.opk', build: 4 });
    const retry = await includeEntry(layout, await makeEntry(layout, { ...HELLO, sequence: 4 }));
    expect(retry.installed.find((file) => file.package === 'hello')).toMatchObject({ build: 4 });
    expect(await packagesOf(layout, AMD64_FEED)).toContain('hello_1.0-1_amd64-linux-glibc_all_b4.opk\n');
    expect((await readdir(pool)).filter((name) => name.startsWith('hello_')).sort()).toEqual([
      'hello_1.0-1_amd64-linux-glibc_all.opk',
      'hello_1.0-1_amd64-linux-glibc_all_b2.opk',
      'hello_1.0-1_amd64-linux-glibc_all_b3.opk',
      'hello_1.0-1_amd64-linux-glibc_all_b4.opk',
    ]);
  });

  it('refuses a package whose pool name is not a regular file', async () => {
    const layout = await queueRoot();
    const pool = join(layout.archive, 'pool/h/hello');
    await mkdir(join(pool, 'hello_1.0-1_amd64-linux-glibc_all.opk'), { recursive: true });
    const report = await includeEntry(layout, await makeEntry(layout, HELLO));
    expect(report.refused).toEqual([
      {
        file: 'hello_1.0-1_amd64-linux-glibc_all.opk',
        reason: 'hello_1.0-1_amd64-linux-glibc_all.opk: pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk exists and is not a regular file',
      },
    ]);
    expect(await exists(join(layout.archive, AMD64_FEED))).toBe(false);
  });
});

describe('includeEntry: builds and completeness', () => {
  it('reports a failed build, whose missing binaries do not block the entry', async () => {
    const layout = await queueRoot();
    const key = await makeEntry(layout, {
      sequence: 1,
      source: 'hello',
      version: '1.0-1',
      builds: [
        { architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }] },
        { architecture: 'armhf-linux-gnueabihf', status: 'failed', listed: ['hello_1.0-1_armhf-linux-gnueabihf_all.opk'], error: 'make: *** [build] Error 2' },
      ],
    });
    const report = await includeEntry(layout, key);
    expect(report.failedBuilds).toEqual([{ architecture: 'armhf-linux-gnueabihf', platform: 'all', error: 'make: *** [build] Error 2' }]);
    expect(report.refused).toEqual([]);
    expect(report.installed.map((file) => file.package)).toEqual(['hello', 'src-hello']);
    expect(await exists(join(layout.archive, 'logs/hello', `${key}_armhf-linux-gnueabihf_all.log`))).toBe(true);
    expect(await exists(join(layout.archive, 'logs/hello', `${key}_armhf-linux-gnueabihf_all.result`))).toBe(true);
    expect(await readdir(layout.archiveQueue)).toEqual([]);
  });

  it('leaves an entry without its source package alone', async () => {
    const layout = await queueRoot();
    const waiting = await makeEntry(layout, { ...HELLO, sequence: 3, withoutSource: true });
    const later = await makeEntry(layout, { ...HELLO, sequence: 2, source: 'world', builds: [{ architecture: 'all', packages: [{ package: 'world' }] }] });
    const first = await makeEntry(layout, { ...HELLO, sequence: 1, source: 'apple', builds: [] });
    for (const name of ['junk', '.tmp-0000000004_junk_1']) {
      await mkdir(join(layout.archiveQueue, name));
      await writeFile(join(layout.archiveQueue, name, `${name}.opk`), '');
    }
    expect(await pendingArchiveEntries(layout)).toEqual([first, later]);

    const before = await snapshot(layout.root);
    const error = await includeEntry(layout, waiting).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InclusionError);
    expect((error as InclusionError).code).toBe('archive.incomplete');
    expect((error as InclusionError).message).toBe(
      `${layout.archiveQueueEntry(waiting)}: no source package ${waiting}.opk: the entry is not complete (or was already included)`,
    );
    expect(await snapshot(layout.root)).toEqual(before);
  });

  it('rejects a key that is not one, and an entry whose .changes is missing', async () => {
    const layout = await queueRoot();
    await expect(includeEntry(layout, '../etc')).rejects.toMatchObject({ code: 'archive.bad-key' });
    const key = await makeEntry(layout, HELLO);
    await unlink(join(layout.archiveQueueEntry(key), `${key}.changes`));
    await expect(includeEntry(layout, key)).rejects.toMatchObject({
      code: 'archive.bad-entry',
      message: `${join(layout.archiveQueueEntry(key), `${key}.changes`)}: missing: builddd moves the .changes in before the source package`,
    });
    expect(await pendingArchiveEntries(layout)).toEqual([key]);
  });
});

describe('includeEntry: killed and run again', () => {
  /** The archive and report of an uninterrupted inclusion of HELLO. */
  async function reference(): Promise<{ archive: Record<string, string>; report: InclusionReport }> {
    const layout = await queueRoot();
    const report = await includeEntry(layout, await makeEntry(layout, HELLO));
    return { archive: await snapshot(layout.archive), report };
  }

  class Killed extends Error {}

  /** Includes HELLO in a fresh root, "killed" right after `step`. */
  async function killedAfter(step: InclusionStep): Promise<QueueLayout> {
    const layout = await queueRoot();
    const key = await makeEntry(layout, HELLO);
    const onStep = (reached: InclusionStep): void => {
      if (reached === step) throw new Killed(step);
    };
    await expect(includeEntry(layout, key, { onStep })).rejects.toBeInstanceOf(Killed);
    return layout;
  }

  it.each(['validated', 'pooled', 'indexed', 'logs-stored', 'mailed'] as const)(
    'finishes the job after a kill after step %s, with the same pool and feeds',
    async (step) => {
      const expected = await reference();
      const layout = await killedAfter(step);
      expect(await pendingArchiveEntries(layout)).toEqual([KEY]);
      const report = await includeEntry(layout, KEY);
      expect(report).toEqual(expected.report);
      expect(await snapshot(layout.archive)).toEqual(expected.archive);
      expect(await readdir(layout.archiveQueue)).toEqual([]);
      expect(await readdir(layout.tmp)).toEqual([]);
    },
  );

  it('changes nothing when the entry is brought back after a complete inclusion (pool links exist already)', async () => {
    const expected = await reference();
    const layout = await queueRoot();
    await includeEntry(layout, await makeEntry(layout, HELLO));
    // The same files again, as new inodes: the pool holds links to the first ones.
    await makeEntry(layout, HELLO);
    const report = await includeEntry(layout, KEY);
    expect(report).toEqual(expected.report);
    expect(await snapshot(layout.archive)).toEqual(expected.archive);
    // Done once, the step is done: the entry is gone, and asking again is refused as incomplete.
    await expect(includeEntry(layout, KEY)).rejects.toMatchObject({ code: 'archive.incomplete' });
    expect(await snapshot(layout.archive)).toEqual(expected.archive);
  });

  it('finishes an entry whose logs and results were already moved out of it', async () => {
    const expected = await reference();
    const layout = await killedAfter('logs-stored');
    const entry = layout.archiveQueueEntry(KEY);
    for (const name of await readdir(entry)) if (/\.(log|result)$/.test(name)) await unlink(join(entry, name));
    const report = await includeEntry(layout, KEY);
    expect(report).toEqual(expected.report);
    expect(await snapshot(layout.archive)).toEqual(expected.archive);
  });

  it('deletes an entry a kill left half-deleted in tmp/', async () => {
    const expected = await reference();
    const layout = await killedAfter('mailed');
    const doomed = join(layout.tmp, `.tmp-included-${KEY}`);
    await rename(layout.archiveQueueEntry(KEY), doomed);
    await unlink(join(doomed, `${KEY}.opk`));
    expect(await pendingArchiveEntries(layout)).toEqual([]);
    await removeIncludedEntries(layout);
    expect(await readdir(layout.tmp)).toEqual([]);
    expect(await snapshot(layout.archive)).toEqual(expected.archive);
  });
});

describe('includeEntries: a batch', () => {
  const WORLD: UploadSpec = { sequence: 2, source: 'world', version: '2.0-1', builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'world' }] }] };

  it('gives each entry the archive and report it would get alone, and rewrites each index once', async () => {
    // One at a time, for reference.
    const alone = await queueRoot();
    const aloneReports = [await includeEntry(alone, await makeEntry(alone, HELLO)), await includeEntry(alone, await makeEntry(alone, WORLD))];

    const layout = await queueRoot();
    const keys = [await makeEntry(layout, HELLO), await makeEntry(layout, WORLD)];
    const steps: InclusionStep[] = [];
    const outcomes = await includeEntries(layout, keys, { onStep: (step) => void steps.push(step) });
    expect(steps).toEqual(['validated', 'pooled', 'indexed', 'logs-stored', 'mailed', 'removed']);
    expect(outcomes.map((outcome) => outcome.key)).toEqual(keys);
    const reports = outcomes.map((outcome) => ('report' in outcome ? outcome.report : outcome.error));
    expect(reports).toEqual(aloneReports);
    expect(await snapshot(layout.archive)).toEqual(await snapshot(alone.archive));
    expect(await readdir(layout.archiveQueue)).toEqual([]);
  });

  it('leaves an entry it cannot include as it was, with its error, and includes the others', async () => {
    const layout = await queueRoot();
    const hello = await makeEntry(layout, HELLO);
    const world = await makeEntry(layout, WORLD);
    await unlink(join(layout.archiveQueueEntry(hello), `${hello}.changes`));
    const outcomes = await includeEntries(layout, ['../etc', hello, world]);
    expect(outcomes.map((outcome) => ('error' in outcome ? outcome.error.code : 'included'))).toEqual(['archive.bad-key', 'archive.bad-entry', 'included']);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ world: '2.0-1' });
    expect(await pendingArchiveEntries(layout)).toEqual([hello]);
  });

  it('supersedes an older version by a newer one earlier in the same batch', async () => {
    const layout = await queueRoot();
    const newer = await makeEntry(layout, { ...WORLD, sequence: 1, version: '2.1-1' });
    const older = await makeEntry(layout, { ...WORLD, sequence: 2, version: '2.0-1' });
    const outcomes = await includeEntries(layout, [newer, older]);
    const superseded = outcomes.map((outcome) => ('report' in outcome ? outcome.report.superseded.map((entry) => entry.package) : []));
    expect(superseded).toEqual([[], ['src-world', 'world']]);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ world: '2.1-1' });
  });

  it.each(['validated', 'pooled', 'indexed', 'logs-stored', 'mailed'] as const)(
    'killed after step %s, a second run gives the archive of an uninterrupted batch',
    async (step) => {
      const reference = await queueRoot();
      await includeEntries(reference, [await makeEntry(reference, HELLO), await makeEntry(reference, WORLD)]);

      const layout = await queueRoot();
      const keys = [await makeEntry(layout, HELLO), await makeEntry(layout, WORLD)];
      const onStep = (reached: InclusionStep): void => {
        if (reached === step) throw new Error(`killed after ${step}`);
      };
      await expect(includeEntries(layout, keys, { onStep })).rejects.toThrow(`killed after ${step}`);
      expect(await pendingArchiveEntries(layout)).toEqual(keys);
      await includeEntries(layout, keys);
      expect(await snapshot(layout.archive)).toEqual(await snapshot(reference.archive));
      expect(await readdir(layout.archiveQueue)).toEqual([]);
      expect(await readdir(layout.tmp)).toEqual([]);
    },
  );
});

describe('includeEntries: indexes kept between batches', () => {
  const upload = (sequence: number, source: string): UploadSpec => ({
    sequence,
    source,
    version: '1.0-1',
    builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: source }] }],
  });

  it('rereads an index another writer replaced since the last batch', async () => {
    const layout = await queueRoot();
    const feedCache = new FeedCache(layout);
    await includeEntries(layout, [await makeEntry(layout, upload(1, 'hello'))], { feedCache });
    // Another writer (an archive command holding the lock) adds a stanza the cache has not seen.
    const packages = join(layout.archive, AMD64_FEED, 'Packages');
    const foreign = 'Package: zzz\nVersion: 9\nArchitecture: amd64-linux-glibc\n';
    await writeFile(`${packages}.new`, `${await readFile(packages, 'utf8')}\n${foreign}`);
    await rename(`${packages}.new`, packages);
    await includeEntries(layout, [await makeEntry(layout, upload(2, 'world'))], { feedCache });
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ hello: '1.0-1', world: '1.0-1', zzz: '9' });
  });

  it('forgets what a failed batch put into its indexes', async () => {
    const reference = await queueRoot();
    await includeEntries(reference, [await makeEntry(reference, upload(1, 'hello')), await makeEntry(reference, upload(3, 'moon'))]);

    const layout = await queueRoot();
    const feedCache = new FeedCache(layout);
    await includeEntries(layout, [await makeEntry(layout, upload(1, 'hello'))], { feedCache });
    const world = await makeEntry(layout, upload(2, 'world'));
    const onStep = (step: InclusionStep): void => {
      if (step === 'pooled') throw new Error('killed after pooled');
    };
    await expect(includeEntries(layout, [world], { feedCache, onStep })).rejects.toThrow('killed after pooled');
    // world's pooled package must not reach the index through the cache: only what is in the queue does.
    await rm(layout.archiveQueueEntry(world), { recursive: true });
    await rm(join(layout.archive, 'pool/w'), { recursive: true });
    await includeEntries(layout, [await makeEntry(layout, upload(3, 'moon'))], { feedCache });
    expect(await snapshot(layout.archive)).toEqual(await snapshot(reference.archive));
  });
});

describe('includeEntry: the archive lock', () => {
  it('serialises concurrent inclusions into one feed, losing no stanza', async () => {
    const layout = await queueRoot();
    const hello = await makeEntry(layout, { sequence: 1, source: 'hello', version: '1.0-1', builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }] }] });
    const world = await makeEntry(layout, { sequence: 2, source: 'world', version: '2.0-1', builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'world' }] }] });
    const events: string[] = [];
    const onStep = (key: string) => (step: InclusionStep) => {
      events.push(key);
      void step;
    };
    await Promise.all([includeEntry(layout, hello, { onStep: onStep(hello) }), includeEntry(layout, world, { onStep: onStep(world) })]);
    expect(await versionsIn(layout, AMD64_FEED)).toEqual({ hello: '1.0-1', world: '2.0-1' });
    expect(await versionsIn(layout, 'feeds/dev/trunk/src/all/misc')).toEqual({ 'src-hello': '1.0-1', 'src-world': '2.0-1' });
    // One inclusion ran whole before the other began.
    expect(events).toHaveLength(12);
    expect(new Set(events.slice(0, 6)).size).toBe(1);
    expect(new Set(events.slice(6)).size).toBe(1);
    expect(await exists(join(layout.state, 'archive.lock'))).toBe(false);
  });
});

describe('includeEntry: the installed mail', () => {
  const settings = mailSettings({ from: 'opkfarm <farm@example.org>' });

  it('sends the installed notice to maintainer and uploader, listing the pooled files', async () => {
    const layout = await queueRoot();
    const sent: Notice[] = [];
    const mailer: Mailer = {
      settings,
      send(notice) {
        sent.push(notice);
        return Promise.resolve({ id: 'outbox/1.eml', skipped: [] });
      },
    };
    const report = await includeEntry(layout, await makeEntry(layout, HELLO), { mailer });
    expect(report.mail).toEqual({ id: 'outbox/1.eml' });
    expect(sent).toHaveLength(1);
    const message = sent[0]?.message;
    expect(message?.to.map((address) => address.address)).toEqual(['ann@example.org', 'bob@example.org']);
    expect(message?.subject).toBe('Installed hello 1.0-1 in dev/trunk');
    expect(message?.threadKey).toBe(KEY);
    for (const file of report.installed) expect(message?.text).toContain(`  ${file.file}  ${file.size} bytes`);
  });

  it('includes the entry all the same when the mail cannot be sent', async () => {
    const layout = await queueRoot();
    const mailer: Mailer = { settings, send: () => Promise.reject(new Error('smtp down')) };
    const report = await includeEntry(layout, await makeEntry(layout, HELLO), { mailer });
    expect(report.mail).toEqual({ id: undefined, failure: 'smtp down' });
    expect(report.installed).toHaveLength(3);
    expect(await readdir(layout.archiveQueue)).toEqual([]);
    await rm(layout.root, { recursive: true });
  });
});
