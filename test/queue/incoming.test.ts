/**
 * scanIncoming: how every entry of uploads/incoming/ is sorted into uploads
 * (complete, waiting, invalid, overdue), problems and files still arriving,
 * with sizes, uploaders and ages (from ctime; `now` is moved instead of the
 * clock). Hostile entries are judged by lstat and never read or followed.
 */
import { execFile } from 'node:child_process';
import { link, lstat, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueLayout } from '../../lib/layout.js';
import { scanIncoming, type IncomingReport } from '../../lib/queue/incoming.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const WAIT = 600;

let scratch: string | undefined;
let layout: QueueLayout;

beforeEach(async () => {
  scratch = await scratchDirectory('incoming-');
  ({ layout } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: 'indep', architectures: ['all'] }] }));
  await buildSourcePackage(join(EXAMPLES, 'motd-banner'), { outputDirectory: layout.incoming });
});

afterEach(async () => {
  await removeScratch(scratch);
});

/** The report `seconds` after the newest change of an entry in incoming/. */
async function scanAfter(seconds: number): Promise<IncomingReport> {
  const entries = await Promise.all((await readdir(layout.incoming)).map((name) => lstat(join(layout.incoming, name))));
  const newest = Math.max(...entries.map((stats) => stats.ctimeMs));
  return scanIncoming(layout, { waitSeconds: WAIT, now: newest + seconds * 1000 });
}

const summary = (report: IncomingReport) => ({
  uploads: report.uploads.map((upload) => [upload.source, upload.state, upload.overdue]),
  problems: report.problems.map((file) => [file.name, file.kind]),
  arriving: report.arriving.map((file) => [file.name, file.kind]),
});

describe('scanIncoming', () => {
  it('reports a complete upload with its size, uploader and age', async () => {
    const report = await scanAfter(90);
    expect(summary(report)).toEqual({ uploads: [['motd-banner', 'complete', false]], problems: [], arriving: [] });
    const [upload] = report.uploads;
    const sizes = await Promise.all(['motd-banner_2.3.changes', 'motd-banner_2.3_src.opk'].map((name) => lstat(join(layout.incoming, name))));
    expect(upload?.size).toBe(sizes[0]!.size + sizes[1]!.size);
    expect(upload?.uploader).toBe('Sam Uploader <sam@example.org>');
    expect(upload?.ageSeconds).toBe(90);
  });

  it('keeps an upload waiting for its files until Upload-Wait-Seconds, then reports it overdue', async () => {
    await rm(join(layout.incoming, 'motd-banner_2.3_src.opk'));
    expect(summary(await scanAfter(WAIT))).toMatchObject({ uploads: [['motd-banner', 'waiting', false]] });
    expect(summary(await scanAfter(WAIT + 1))).toMatchObject({ uploads: [['motd-banner', 'waiting', true]] });
  });

  it('takes files no .changes lists, and partial files, for arriving until the wait is over, then for problems', async () => {
    await rm(join(layout.incoming, 'motd-banner_2.3.changes'));
    await writeFile(join(layout.incoming, '.tmp-upload-motd-banner_2.3.changes'), 'Format: 1.8\n');
    expect(summary(await scanAfter(WAIT - 1))).toEqual({
      uploads: [],
      problems: [],
      arriving: [
        ['.tmp-upload-motd-banner_2.3.changes', 'partial'],
        ['motd-banner_2.3_src.opk', 'stray'],
      ],
    });
    const late = await scanAfter(WAIT + 5);
    expect(summary(late)).toEqual({
      uploads: [],
      problems: [
        ['.tmp-upload-motd-banner_2.3.changes', 'partial'],
        ['motd-banner_2.3_src.opk', 'stray'],
      ],
      arriving: [],
    });
    expect(late.problems.map((file) => file.reason)).toEqual([
      'partial file of motd-banner_2.3.changes, left unfinished',
      'no .changes lists it',
    ]);
  });

  it('reports links, special files and bad names at once, never reading them', async () => {
    const config = join(layout.root, 'opkfarm.conf');
    const before = await readFile(config);
    await symlink(config, join(layout.incoming, 'planted-link'));
    await link(config, join(layout.incoming, 'planted-hardlink'));
    await promisify(execFile)('mkfifo', [join(layout.incoming, 'planted.fifo')]);
    await mkdir(join(layout.incoming, 'planted-directory'));
    await writeFile(join(layout.incoming, '.hidden'), 'x');
    await writeFile(join(layout.incoming, 'two words'), 'x');
    // A .changes that is a link is no upload: it is never read.
    await symlink('motd-banner_2.3.changes', join(layout.incoming, 'other_1.0.changes'));

    const report = await scanAfter(1);
    expect(summary(report)).toEqual({
      uploads: [['motd-banner', 'complete', false]],
      problems: [
        ['.hidden', 'bad-name'],
        ['other_1.0.changes', 'symlink'],
        ['planted-directory', 'directory'],
        ['planted-hardlink', 'hard-link'],
        ['planted-link', 'symlink'],
        ['planted.fifo', 'special'],
        ['two words', 'bad-name'],
      ],
      arriving: [],
    });
    expect(report.problems.find((file) => file.name === 'planted-link')?.reason).toBe(`symbolic link to ${JSON.stringify(config)}: never followed`);
    expect(report.problems.find((file) => file.name === 'planted-hardlink')?.reason).toBe(
      'hard link (2 names for one file, the others outside incoming/): never read or linked',
    );
    expect(await readFile(config)).toEqual(before);
  });

  it('lists an upload whose file is a planted link as invalid, naming the file', async () => {
    const opk = join(layout.incoming, 'motd-banner_2.3_src.opk');
    const outside = join(layout.tmp, 'real.opk');
    await writeFile(outside, await readFile(opk));
    await rm(opk);
    await symlink(outside, opk);
    const report = await scanAfter(1);
    expect(report.uploads.map((upload) => [upload.state, upload.check.state === 'invalid' && upload.check.reasons])).toEqual([
      ['invalid', ['motd-banner_2.3_src.opk: is a symbolic link, not a regular file']],
    ]);
    expect(summary(report).problems).toEqual([['motd-banner_2.3_src.opk', 'symlink']]);
  });
});
