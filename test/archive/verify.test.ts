/**
 * verifyArchive: clean after inclusion; each kind of damage reported as one
 * line naming the file and the problem.
 */
import { copyFile, cp, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { formatFinding } from '../../lib/archive/findings.js';
import { includeEntry } from '../../lib/archive/include.js';
import { verifyArchive } from '../../lib/archive/verify.js';
import type { QueueLayout } from '../../lib/layout.js';
import { digests, makeEntry, queueRoot } from './fixtures.js';

const FEED = 'feeds/dev/trunk/amd64-linux-glibc/all/misc';
const INDEX = `${FEED}/Packages`;
const HELLO = 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk';

/** An archive holding one upload: hello (amd64), hello-doc (all) and src-hello. */
async function archive(): Promise<QueueLayout> {
  const layout = await queueRoot();
  const key = await makeEntry(layout, {
    sequence: 1,
    source: 'hello',
    version: '1.0-1',
    builds: [
      { architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }] },
      { architecture: 'all', packages: [{ package: 'hello-doc' }] },
    ],
  });
  await includeEntry(layout, key);
  return layout;
}

/** The problems as printed, one line each. */
async function problems(layout: QueueLayout): Promise<string[]> {
  return (await verifyArchive(layout)).problems.map(formatFinding);
}

/** Replaces text in a feed's Packages, and writes the matching Packages.gz (a careful hand edit). */
async function editIndex(layout: QueueLayout, edit: (text: string) => string): Promise<void> {
  const path = join(layout.archive, INDEX);
  const text = edit(await readFile(path, 'utf8'));
  await writeFile(path, text);
  await writeFile(`${path}.gz`, gzipSync(text));
}

describe('verifyArchive', () => {
  it('is clean after inclusion, rel snapshots included, and counts what it checked', async () => {
    const layout = await archive();
    await cp(join(layout.archive, 'feeds/dev/trunk'), join(layout.archive, 'feeds/rel/r1'), { recursive: true });
    expect(await verifyArchive(layout)).toEqual({
      problems: [],
      notes: [],
      checked: { feeds: 6, stanzas: 6, poolFiles: 3, packages: 3 },
    });
  });

  it('catches a truncated pool file', async () => {
    const layout = await archive();
    const path = join(layout.archive, HELLO);
    const { size } = await digests(path);
    await truncate(path, Math.floor(size / 2));
    const { md5, sha256 } = await digests(path);
    expect(await problems(layout)).toEqual([
      `${HELLO}: outer archive: truncated: gzip data ends early (unexpected end of file)`,
      `${INDEX}: hello: Size "${size}" but ${HELLO} has ${Math.floor(size / 2)} bytes`,
      expect.stringMatching(new RegExp(`^${INDEX}: hello: MD5Sum "[0-9a-f]{32}" but ${HELLO} has MD5 ${md5}$`)),
      expect.stringMatching(new RegExp(`^${INDEX}: hello: SHA256sum "[0-9a-f]{64}" but ${HELLO} has SHA-256 ${sha256}$`)),
    ]);
  });

  it('catches a hand-edited index: a changed Version, a changed Size, an extra field', async () => {
    const layout = await archive();
    const { size } = await digests(join(layout.archive, HELLO));
    await editIndex(layout, (text) =>
      text.replace('Version: 1.0-1', 'Version: 1.0-9').replace(`Size: ${size}`, `Size: ${size + 1}`).replace('Filename:', 'X-Extra: yes\nFilename:'),
    );
    expect(await problems(layout)).toEqual([
      `${INDEX}: hello: Size "${size + 1}" but ${HELLO} has ${size} bytes`,
      `${INDEX}: hello: Version "1.0-9" but ${HELLO} says "1.0-1"`,
      `${INDEX}: hello: field X-Extra is not in the control of ${HELLO}`,
    ]);
  });

  it('catches a field left out and a Filename that leaves the pool', async () => {
    const layout = await archive();
    await editIndex(layout, (text) => text.replace(/^Maintainer: .*\n/m, '').replace(/^Filename: .*$/m, 'Filename: ../../../../../../logs/x.opk'));
    expect(await problems(layout)).toEqual([`${INDEX}: hello: Filename "../../../../../../logs/x.opk" is not in the pool`]);
    await editIndex(layout, (text) => text.replace(/^Filename: .*$/m, `Filename: ../../../../../../${HELLO}`));
    expect(await problems(layout)).toEqual([`${INDEX}: hello: no Maintainer field, which ${HELLO} has ("Ann Example <ann@example.org>")`]);
  });

  it('catches a missing pool file', async () => {
    const layout = await archive();
    await rm(join(layout.archive, HELLO));
    expect(await problems(layout)).toEqual([`${INDEX}: hello: ${HELLO} does not exist`]);
  });

  it('catches a Packages.gz that disagrees with Packages, or is missing', async () => {
    const layout = await archive();
    await writeFile(join(layout.archive, `${INDEX}.gz`), gzipSync('Package: other\n'));
    expect(await problems(layout)).toEqual([`${INDEX}.gz: does not decompress to Packages`]);
    await rm(join(layout.archive, `${INDEX}.gz`));
    expect(await problems(layout)).toEqual([`${INDEX}.gz: missing (Packages is there)`]);
  });

  it('catches a stray temporary under pool/ and feeds/ and a name the pool does not make; notes what no index lists', async () => {
    const layout = await archive();
    const old = new Date(Date.now() - 10 * 60_000);
    for (const temporary of ['pool/h/hello/.tmp-0a1b2c-hello.opk', `${FEED}/.tmp-3d4e5f-Packages`]) {
      await writeFile(join(layout.archive, temporary), 'half');
      await utimes(join(layout.archive, temporary), old, old);
    }
    await writeFile(join(layout.archive, 'pool/h/hello/junk.opk'), 'junk');
    await copyFile(join(layout.archive, HELLO), join(layout.archive, 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all_b2.opk'));
    const report = await verifyArchive(layout);
    expect(report.problems.map(formatFinding)).toEqual([
      'pool/h/hello/junk.opk: not a pool file name (<package>_<version>_<arch>_<plat>.opk, or _b<N>.opk for build N > 1)',
      `${FEED}/.tmp-3d4e5f-Packages: a temporary left behind (older than 60 s: no writer takes that long); delete it`,
      'pool/h/hello/.tmp-0a1b2c-hello.opk: a temporary left behind (older than 60 s: no writer takes that long); delete it',
    ]);
    expect(report.notes.map(formatFinding)).toEqual([
      'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all_b2.opk: listed by no index (gc collects it once its grace period is over)',
    ]);
  });
});
