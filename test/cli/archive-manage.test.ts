/**
 * `opkfarm archive release|diff|keep|unkeep|gc` as a user runs them: the
 * real program on a queue root whose archive real inclusions made.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { includeEntry } from '../../lib/archive/include.js';
import type { QueueLayout } from '../../lib/layout.js';
import { makeEntry, type UploadSpec } from '../archive/fixtures.js';
import { initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';
import { runProgram } from '../support/programs.js';

let scratch: string | undefined;
let layout: QueueLayout;

const upload = (sequence: number, version: string): UploadSpec => ({
  sequence,
  source: 'hello',
  version,
  builds: [{ architecture: 'all', packages: [{ package: 'hello' }] }],
});

beforeEach(async () => {
  scratch = await scratchDirectory('archive-cli');
  ({ layout } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: 'indep', architectures: ['all'] }] }));
  await includeEntry(layout, await makeEntry(layout, upload(1, '1.0-1')));
});

afterEach(async () => {
  await removeScratch(scratch);
  scratch = undefined;
});

const archive = (...args: string[]) => runProgram('opkfarm', ['archive', ...args, '--root', layout.root]);

describe('opkfarm archive', () => {
  it('releases a suite, shows what dev has that the release lacks, and refuses a second release', async () => {
    expect((await archive('release', 'dev/trunk', 'rel/rs1')).stdout).toBe('released dev/trunk as rel/rs1: 2 feeds');
    await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1')));
    const diff = await archive('diff', 'dev/trunk', 'rel/rs1');
    expect(diff.exitCode).toBe(0);
    expect(diff.stdout).toBe(
      ['hello all/all: dev/trunk 1.1-1, rel/rs1 1.0-1', 'src-hello src/all: dev/trunk 1.1-1, rel/rs1 1.0-1', '2 differences between dev/trunk and rel/rs1'].join('\n'),
    );
    const again = await archive('release', 'dev/trunk', 'rel/rs1');
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe('opkfarm: rel/rs1: already released; a release is a static snapshot and is never rewritten');
  });

  it('collects what nothing keeps, after a dry run that changes nothing, and honours keep marks', async () => {
    await includeEntry(layout, await makeEntry(layout, upload(2, '1.1-1')));
    const pool = join(layout.archive, 'pool/h/hello');
    const before = (await readdir(pool)).sort();
    expect((await archive('keep', 'hello', '1.0-1')).stdout).toBe('hello 1.0-1: kept');
    expect((await archive('keep')).stdout).toBe('hello 1.0-1');

    const kept = await archive('gc', '--keep-builds', '0', '--grace-hours', '0');
    expect(kept.stdout).toBe('gc: deleted 0 files, 0 bytes in 0 passes; kept: indexed 2, keep-mark 1, source-of-binary 1');
    expect((await archive('unkeep', 'hello', '1.0-1')).stdout).toBe('hello 1.0-1: no longer kept');
    expect((await archive('unkeep', 'hello', '1.0-1')).stderr).toBe('opkfarm: hello 1.0-1: no keep mark');

    const dry = await archive('gc', '--dry-run', '--keep-builds', '0', '--grace-hours', '0');
    expect(String(dry.stdout).split('\n')).toEqual([
      expect.stringMatching(/^would delete pool\/h\/hello\/hello_1\.0-1_all_all\.opk \(\d+ bytes\)$/),
      expect.stringMatching(/^would delete pool\/h\/hello\/src-hello_1\.0-1_src_all\.opk \(\d+ bytes\)$/),
      expect.stringMatching(/^gc: would delete 2 files, \d\.\d KiB \(\d+ bytes\) in 2 passes; kept: indexed 2$/),
    ]);
    expect((await readdir(pool)).sort()).toEqual(before);

    const real = await archive('gc', '--keep-builds', '0', '--grace-hours', '0');
    expect(String(real.stdout).replaceAll('deleted', 'would delete')).toBe(dry.stdout);
    expect((await readdir(pool)).sort()).toEqual(['hello_1.1-1_all_all.opk', 'src-hello_1.1-1_src_all.opk']);
  });

  it('refuses bad arguments with one line', async () => {
    const gc = await archive('gc', '--grace-hours', '-1');
    expect(gc.exitCode).toBe(1);
    expect(gc.stderr).toBe('opkfarm: gc: --grace-hours must be a number of at least 0, not -1');
    const release = await archive('release', 'dev/trunk', 'stable');
    expect(release.stderr).toBe('opkfarm: stable: suite "stable" is not <channel>/<name>');
  });
});
