/**
 * `buildq retry` and `buildq cancel` with the real programs: a failed build
 * given back to its queue builds into the archive beside the failed build's
 * record; a queued upload cancelled leaves every queue, keeps the link-count
 * invariant, is kept in rejected/ and is mailed; a build in progress blocks
 * a cancel rather than being pulled from under its buildd.
 */
import { lstat, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildUpload,
  buildq,
  feedProblems,
  indexedNames,
  initFarm,
  nativeArchitecture,
  outboxSubjects,
  poolFiles,
  queueLeftovers,
} from '../support/farm.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { runPipelineOnce, runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';

const QUEUES = ['native', 'indep'];
const { directory } = usePipelineScratch('retry-cancel');

async function farmWithFailpkg(base: string, version: string): Promise<{ root: string; flag: string }> {
  const root = join(base, 'root');
  const flag = join(base, 'fixed');
  await initFarm(root, {
    // The fix below is a file in this test's scratch directory, which the build sandbox hides: a retry
    // is for what changed outside the package (a build host fixed), so the builds see the host.
    sandbox: 'none',
    queues: [
      { name: 'native', architectures: [nativeArchitecture()] },
      { name: 'indep', architectures: ['all'] },
    ],
  });
  // Fails for the native architecture until the flag file exists: a fix outside the package.
  const source = await writeSourcePackage(join(base, 'sources'), {
    name: 'failpkg',
    version,
    binaries: [
      { name: 'failpkg-bin', architecture: 'any' },
      { name: 'failpkg-data', architecture: 'all' },
    ],
    buildRecipe: [`@if [ "$(OPK_HOST_ARCH)" != all ] && [ ! -e ${flag} ]; then echo "failpkg: broken for $(OPK_HOST_ARCH)" >&2; exit 1; fi`],
  });
  await buildUpload(source, join(root, 'uploads', 'incoming'));
  return { root, flag };
}

describe('buildq retry', () => {
  it('builds a failed architecture again into the archive, beside the failed build record', async () => {
    const arch = nativeArchitecture();
    const { root, flag } = await farmWithFailpkg(directory(), '1.0');
    await buildq(root, ['accept', 'failpkg', '1.0', '--remarks', 'ok']);
    await runPipelineOnce(root, QUEUES);
    expect(await indexedNames(root)).toEqual(['failpkg-data', 'src-failpkg']);

    await writeFile(flag, '');
    const first = '0000000001_failpkg_1.0';
    const retry = '0000000002_failpkg_1.0';
    expect(await buildq(root, ['retry', 'failpkg', '1.0', '--arch', arch])).toBe(
      `Retrying failpkg 1.0 as ${retry} in native: ${arch}/all (failed in ${first})`,
    );
    await runPipelineOnce(root, QUEUES);

    expect(await indexedNames(root)).toEqual(['failpkg-bin', 'failpkg-data', 'src-failpkg']);
    expect(await poolFiles(root)).toEqual([
      `f/failpkg/failpkg-bin_1.0_${arch}_all.opk`,
      'f/failpkg/failpkg-data_1.0_all_all.opk',
      'f/failpkg/src-failpkg_1.0_src_all.opk',
    ]);
    const logs = join(root, 'archive', 'logs', 'failpkg');
    expect(await readFile(join(logs, `${first}_${arch}_all.result`), 'utf8')).toMatch(/^Status: failed$/m);
    expect(await readFile(join(logs, `${retry}_${arch}_all.result`), 'utf8')).toMatch(/^Status: ok$/m);
    expect((await readdir(logs)).filter((name) => name.startsWith(retry)).sort()).toEqual([
      `${retry}.changes`,
      `${retry}_${arch}_all.log`,
      `${retry}_${arch}_all.result`,
    ]);
    expect(await readFile(join(logs, `${retry}.changes`), 'utf8')).toMatch(new RegExp(`^Architecture: ${arch}$`, 'm'));
    expect(await feedProblems(root)).toEqual([]);
    expect(await queueLeftovers(root, QUEUES)).toEqual([]);
    expect((await outboxSubjects(root)).filter((subject) => subject.startsWith('Build'))).toEqual(
      [`Build failed failpkg 1.0 ${arch}/all`, 'Build succeeded failpkg 1.0 all/all', `Build succeeded failpkg 1.0 ${arch}/all`].sort(),
    );

    // Nothing failed any more: a second retry says so in one line.
    const again = await runProgram('buildq', ['--root', root, 'retry', 'failpkg', '1.0']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe('buildq: failpkg 1.0: no failed build whose newest result is a failure (see archive/logs/failpkg/)');
  }, 120_000);
});

describe('buildq cancel', () => {
  it('takes a queued upload out of every queue, keeps it in rejected/ and tells the maintainer', async () => {
    const { root } = await farmWithFailpkg(directory(), '1.1');
    await buildq(root, ['accept', 'failpkg', '1.1', '--remarks', 'ok']);
    const key = '0000000001_failpkg_1.1';
    expect((await lstat(join(root, 'queues', 'master', `${key}.opk`))).nlink).toBe(3);

    // A buildd holding it blocks the cancel, and the cancel gives back what it took.
    const claimed = join(root, 'queues', 'buildd', 'indep', 'claims', `${key}.opk@${hostname()}@${process.pid}`);
    await rename(join(root, 'queues', 'buildd', 'indep', `${key}.opk`), claimed);
    const blocked = await runProgram('buildq', ['--root', root, 'cancel', 'failpkg', '1.1', '--remarks', 'wrong tarball']);
    expect(blocked.exitCode).toBe(1);
    expect(blocked.stderr).toMatch(/^buildq: failpkg 1\.1: being built by .*@\d+ in queue indep; cancel it when that build ends$/);
    expect(await readdir(join(root, 'queues', 'buildd', 'native'))).toContain(`${key}.opk`);
    await rename(claimed, join(root, 'queues', 'buildd', 'indep', `${key}.opk`));

    expect(await buildq(root, ['cancel', 'failpkg', '1.1', '--remarks', 'wrong tarball'])).toBe(
      `Cancelled failpkg 1.1 (${key}), out of native, indep; kept in ${join(root, 'rejected', key)}`,
    );
    expect(await queueLeftovers(root, QUEUES)).toEqual([]);
    const kept = join(root, 'rejected', key);
    expect((await readdir(kept)).sort()).toEqual([`${key}.changes`, `${key}.opk`, 'REMARKS']);
    expect((await lstat(join(kept, `${key}.opk`))).nlink).toBe(1);
    expect(await readFile(join(kept, 'REMARKS'), 'utf8')).toBe('Cancelled after acceptance.\n\nwrong tarball\n');
    expect(await outboxSubjects(root)).toEqual(['Accepted failpkg 1.1', 'Rejected failpkg 1.1']);

    // The daemons find nothing to do, and a second cancel says it is not queued.
    await runPipelineOnce(root, QUEUES);
    expect(await poolFiles(root)).toEqual([]);
    const again = await runProgram('buildq', ['--root', root, 'cancel', 'failpkg', '1.1', '--remarks', 'again']);
    expect(again.stderr).toBe('buildq: failpkg 1.1: not in the build queues: no accepted upload of that version is in master/');
  }, 120_000);
});
