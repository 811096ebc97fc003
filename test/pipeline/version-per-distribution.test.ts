/**
 * A version goes into one distribution (queues-layout/README.md), with the
 * real programs: once a version is in the pool, `buildq accept` refuses the
 * same version uploaded to another distribution before anything is built,
 * leaving the upload in incoming/ as it was, and still accepts it for its
 * own distribution (a rebuild). Two such uploads accepted before either is
 * included are the case accept cannot see: archived refuses the second.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildUpload, buildq, indexedPackages, initFarm, nativeArchitecture, poolFiles } from '../support/farm.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { runPipelineOnce, runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';

const QUEUES = ['native'];
const SOURCE_POOL_FILE = 'pool/s/solo/src-solo_1.0-1_src_all.opk';
const { directory } = usePipelineScratch('version-distribution');
let sources = 0;

/** A farm taking uploads to trunk and rs1, with one queue building `all`. */
async function farm(): Promise<string> {
  const root = join(directory(), 'root');
  await initFarm(root, { queues: [{ name: 'native', architectures: [nativeArchitecture(), 'all'] }] });
  const config = join(root, 'opkfarm.conf');
  await writeFile(config, (await readFile(config, 'utf8')).replace('Distributions: trunk', 'Distributions: trunk rs1'));
  return root;
}

/** Builds the upload solo 1.0-1 to `distribution` (its change log's) into incoming/. */
async function uploadSolo(root: string, distribution: string): Promise<void> {
  const parent = join(directory(), `source-${++sources}`);
  const source = await writeSourcePackage(parent, { name: 'solo', version: '1.0-1', binaries: [{ name: 'solo', architecture: 'all' }] });
  const changelog = join(source, 'changelog');
  await writeFile(changelog, (await readFile(changelog, 'utf8')).replace(') trunk;', `) ${distribution};`));
  await buildUpload(source, join(root, 'uploads', 'incoming'));
}

/** Every file under `dir` with its content, by relative path. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[join(entry.parentPath, entry.name).slice(dir.length + 1)] = (await readFile(join(entry.parentPath, entry.name))).toString('base64');
  }
  return out;
}

describe('the same version uploaded to a second distribution', () => {
  it('is refused by accept, before it is built, with the upload left in incoming/', async () => {
    const root = await farm();
    await uploadSolo(root, 'trunk');
    await buildq(root, ['accept', 'solo', '1.0-1', '--remarks', 'first']);
    await runPipelineOnce(root, QUEUES);
    expect(await poolFiles(root)).toContain(SOURCE_POOL_FILE.slice('pool/'.length));

    await uploadSolo(root, 'rs1');
    expect(await readFile(join(root, 'uploads', 'incoming', 'solo_1.0-1.changes'), 'utf8')).toMatch(/^Distribution: rs1$/m);
    const incoming = await contents(join(root, 'uploads', 'incoming'));
    const queues = await contents(join(root, 'queues'));
    const state = await contents(join(root, 'state'));
    // The reviewer is warned before deciding.
    expect(await buildq(root, ['list'])).toContain(`accept would refuse it: solo 1.0-1 is in the pool from an upload to trunk (${SOURCE_POOL_FILE})`);
    expect(await buildq(root, ['show', 'solo', '1.0-1'])).toContain(
      `Accept would refuse it: solo 1.0-1 is in the pool from an upload to trunk (${SOURCE_POOL_FILE}); a version goes into one distribution`,
    );
    const refused = await runProgram('buildq', ['--root', root, 'accept', 'solo', '1.0-1', '--remarks', 'second']);
    expect(String(refused.stderr)).toBe(
      `buildq: solo_1.0-1.changes: solo 1.0-1 is in the pool from an upload to trunk (${SOURCE_POOL_FILE}); ` +
        'a version goes into one distribution: upload a version of its own to rs1',
    );
    expect(refused.exitCode).toBe(1);
    // Nothing changed: the upload as it was, no queue entry, no sequence number used, nothing left in tmp/.
    expect(await contents(join(root, 'uploads', 'incoming'))).toEqual(incoming);
    expect(await contents(join(root, 'queues'))).toEqual(queues);
    expect(await contents(join(root, 'state'))).toEqual(state);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);

    // The same version to the distribution it is in: a rebuild, accepted.
    await rm(join(root, 'uploads', 'incoming'), { recursive: true });
    await uploadSolo(root, 'trunk');
    expect(await buildq(root, ['show', 'solo', '1.0-1'])).not.toContain('Accept would refuse it');
    expect(await buildq(root, ['list'])).not.toContain('accept would refuse it');
    expect(await buildq(root, ['accept', 'solo', '1.0-1', '--remarks', 'rebuild'])).toBe('Accepted solo 1.0-1 as 0000000002_solo_1.0-1 into native');
  });

  it('is refused by archived when both uploads were accepted before either was included', async () => {
    const root = await farm();
    await uploadSolo(root, 'trunk');
    await buildq(root, ['accept', 'solo', '1.0-1', '--remarks', 'first']);
    await uploadSolo(root, 'rs1');
    await buildq(root, ['accept', 'solo', '1.0-1', '--remarks', 'second']);

    const logs = await runPipelineOnce(root, QUEUES);
    expect(logs.archived).toContain(`in the pool from an upload to trunk (${SOURCE_POOL_FILE}); a version goes into one distribution`);
    const feeds = (await indexedPackages(root)).map((indexed) => indexed.feed.slice(join(root, 'archive', 'feeds').length + 1));
    expect(feeds.every((feed) => feed.startsWith('dev/trunk/'))).toBe(true);
    expect(feeds).toHaveLength(2);
  });
});
