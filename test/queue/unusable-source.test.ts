/**
 * A source package the farm cannot build: accept refuses it (the reviewer
 * sees why, nothing enters a queue), and a buildd that meets one anyway
 * records a failed build and pops it instead of failing again forever.
 */
import { link, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Builder } from '../../lib/build/builder.js';
import { buildClaim } from '../../lib/build/build-claim.js';
import { formatChanges, parseChanges } from '../../lib/formats/changes.js';
import { digestFile } from '../../lib/fs/hash.js';
import { uploadKey, type QueueLayout } from '../../lib/layout.js';
import { acceptUpload } from '../../lib/queue/accept.js';
import { claimEntry } from '../../lib/queue/claims.js';
import { currentProcess } from '../../lib/queue/heartbeat.js';
import type { FarmConfig } from '../../lib/config.js';
import { controlOf, writePackage, writeUnsafePackage } from '../archive/fixtures.js';
import { buildUpload, initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const SOURCE_CONTROL: ReadonlyArray<readonly [string, string]> = [
  ['Package', 'src-motd-banner'],
  ['Source', 'motd-banner'],
  ['Version', '2.3'],
  ['Architecture', 'src'],
  ['Platform', 'all'],
  ['Maintainer', 'Ops Team <ops@example.org>'],
  ['Description', 'source package of motd-banner'],
];

let scratch: string | undefined;
let layout: QueueLayout;
let config: FarmConfig;

beforeEach(async () => {
  scratch = await scratchDirectory('unusable-source-');
  ({ layout, config } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: 'indep', architectures: ['all'] }] }));
  await buildUpload(join(EXAMPLES, 'motd-banner'), layout.incoming);
});

afterEach(async () => {
  await removeScratch(scratch);
});

/** Replaces the upload's source package and lists the new one's size and hashes in its .changes. */
async function replaceSourcePackage(write: (path: string) => Promise<void>): Promise<string> {
  const opk = join(layout.incoming, 'motd-banner_2.3_src.opk');
  const changesPath = join(layout.incoming, 'motd-banner_2.3.changes');
  await write(opk);
  const digests = await digestFile(opk);
  const changes = parseChanges(await readFile(changesPath, 'utf8'), changesPath);
  const files = [{ name: 'motd-banner_2.3_src.opk', size: digests.size, sha256: digests.sha256, md5: digests.md5 }];
  await writeFile(changesPath, formatChanges({ ...changes, files }));
  return changesPath;
}

describe('accept', () => {
  it.each([
    [
      'data with a ../ path',
      (path: string) => writeUnsafePackage(path, controlOf(SOURCE_CONTROL)),
      /^motd-banner_2\.3\.changes: upload is invalid: motd-banner_2\.3_src\.opk: .*\.\./,
    ],
    [
      'the wrong Package and no SPF tree',
      (path: string) => writePackage(path, controlOf(SOURCE_CONTROL, { Package: 'motd-banner' }), { 'usr/share/x': 'x' }),
      /^motd-banner_2\.3\.changes: upload is invalid: motd-banner_2\.3_src\.opk: control field Package is "motd-banner", expected "src-motd-banner"; motd-banner_2\.3_src\.opk: 2 data entries outside usr\/src\/motd-banner_2\.3\/, e\.g\. "usr\/share"; motd-banner_2\.3_src\.opk: usr\/src\/motd-banner_2\.3\/ lacks format, control, changelog, build \(not an SPF 2\.0 source package\)$/,
    ],
  ])('refuses a source package with %s, leaving the upload where it was', async (_name, write, message) => {
    const changesPath = await replaceSourcePackage(write);
    await expect(acceptUpload(layout, config, changesPath, '')).rejects.toThrow(message);
    expect((await readdir(layout.incoming)).sort()).toEqual(['motd-banner_2.3.changes', 'motd-banner_2.3_src.opk']);
    expect(await readdir(layout.master)).toEqual([]);
    expect((await readdir(layout.buildQueue('indep'))).filter((name) => name !== 'claims')).toEqual([]);
    expect((await readdir(layout.tmp)).filter((name) => !name.endsWith('.lock'))).toEqual([]);
  });
});

describe('buildd', () => {
  it('records an entry it cannot unpack as a failed build and pops it', async () => {
    // An entry that reached the queue without accept's check (a hand-made one).
    const key = uploadKey(1, 'motd-banner', '2.3');
    const bad = join(scratch as string, 'bad.opk');
    await writeUnsafePackage(bad, controlOf(SOURCE_CONTROL));
    await link(bad, layout.masterEntry(key));
    await link(bad, layout.buildQueueEntry('indep', key));
    const claim = await claimEntry(layout, 'indep', key);
    if (!claim) throw new Error('claim failed');

    const neverCalled: Builder = () => Promise.reject(new Error('the builder must not run'));
    const outcome = await buildClaim({
      layout,
      queue: { name: 'indep', architectures: ['all'], platforms: [], timeoutSeconds: 10, limits: { logBytes: 1 << 20, outputBytes: 1 << 20 } },
      claim,
      builder: neverCalled,
      self: currentProcess(),
      signal: new AbortController().signal,
    });

    expect(outcome.state).toBe('built');
    expect(outcome.pairs.map((pair) => [pair.architecture, pair.platform, pair.status])).toEqual([['all', 'all', 'failed']]);
    const entry = layout.archiveQueueEntry(key);
    const result = await readFile(join(entry, 'all_all.result'), 'utf8');
    expect(result).toMatch(/^Status: failed$/m);
    expect(result).toMatch(/^Error: .*bad\.opk|^Error: .*\.opk/m);
    expect(await readFile(join(entry, 'all_all.log'), 'utf8')).toMatch(/^opkfarm: the source package cannot be built: /);
    expect(await readdir(layout.claims('indep'))).toEqual([]);
    expect((await readdir(layout.tmp)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });
});
