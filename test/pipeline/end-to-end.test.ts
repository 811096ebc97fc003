/**
 * The whole pipeline with the real, long-running programs on the sample
 * source packages: two accepted uploads end in the archive with correct
 * indexes, the rejected one in rejected/, every queue empty, every mail
 * written, and every daemon stops cleanly on SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import {
  buildUpload,
  buildq,
  describeRoot,
  feedProblems,
  indexedNames,
  indexedPackages,
  initFarm,
  namesIn,
  nativeArchitecture,
  outboxSubjects,
  pipelineSettled,
  poolFiles,
  queueLeftovers,
} from '../support/farm.js';
import { describeProcesses, processesWithin } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const QUEUES = ['native', 'indep'];
const EXPECTED_PACKAGES = ['hello', 'hello-doc', 'libgreet-dev', 'libgreet1', 'src-hello', 'src-libgreet'];

const { directory, daemons } = usePipelineScratch('end-to-end');

describe('the pipeline, end to end', () => {
  it('builds, archives, rejects and mails the three samples, leaves every queue empty and stops cleanly', async () => {
    const root = join(directory(), 'root');
    const arch = nativeArchitecture();
    await initFarm(root, {
      name: 'e2e',
      rescanSeconds: 2,
      queues: [
        { name: 'native', architectures: [arch] },
        { name: 'indep', architectures: ['all'] },
      ],
    });
    for (const example of ['hello', 'libgreet', 'motd-banner']) await buildUpload(join(EXAMPLES, example), join(root, 'uploads', 'incoming'));

    const running = [
      daemons.start('buildd', ['--root', root, '--queue', 'native']),
      daemons.start('buildd', ['--root', root, '--queue', 'indep']),
      daemons.start('builddd', ['--root', root]),
      daemons.start('archived', ['--root', root]),
    ];
    expect(await buildq(root, ['accept', 'hello', '1.0-1', '--remarks', 'Welcome to the archive.'])).toContain('into indep, native');
    expect(await buildq(root, ['accept', 'libgreet', '0.9~rc1-1', '--remarks', 'Release candidate accepted.'])).toContain(
      'into native',
    );
    const remarks = 'Please add a Homepage field and upload again.';
    await buildq(root, ['reject', 'motd-banner', '2.3', '--remarks', remarks]);

    // Done when every package is indexed and every queue directory is empty; a leftover that stays is a failure.
    await waitFor(
      'both uploads to be in the archive and every queue directory to be empty',
      () => pipelineSettled(root, QUEUES, EXPECTED_PACKAGES),
      { timeoutMs: 60_000, diagnostics: async () => `${await describeRoot(root, QUEUES)}\n${daemons.logs()}` },
    );

    // The feeds: each binary once, every checksum the pool file's, Filename resolving into the pool.
    expect(await indexedNames(root)).toEqual(EXPECTED_PACKAGES);
    expect(await feedProblems(root)).toEqual([]);
    const pool = await poolFiles(root);
    expect(pool).toEqual(
      [
        `h/hello/hello-doc_1.0-1_all_all.opk`,
        `h/hello/hello_1.0-1_${arch}_all.opk`,
        `h/hello/src-hello_1.0-1_src_all.opk`,
        `libg/libgreet/libgreet-dev_0.9~rc1-1_${arch}_all.opk`,
        `libg/libgreet/libgreet1_0.9~rc1-1_${arch}_all.opk`,
        `libg/libgreet/src-libgreet_0.9~rc1-1_src_all.opk`,
      ].sort(),
    );
    const indexedFiles = (await indexedPackages(root)).map((indexed) => indexed.file).sort();
    expect(indexedFiles).toEqual(pool.map((file) => join(root, 'archive', 'pool', file)).sort());

    // Build records are stored with the archive.
    for (const [source, key, build] of [
      ['hello', '0000000001_hello_1.0-1', 'all_all'],
      ['hello', '0000000001_hello_1.0-1', `${arch}_all`],
      ['libgreet', '0000000002_libgreet_0.9~rc1-1', `${arch}_all`],
    ] as const) {
      const result = await readFile(join(root, 'archive', 'logs', source, `${key}_${build}.result`), 'utf8');
      expect(result).toMatch(/^Status: ok$/m);
      await expect(readFile(join(root, 'archive', 'logs', source, `${key}_${build}.log`), 'utf8')).resolves.toContain('make -f build');
    }

    // Nothing is left in any queue, claims area, archive queue, tmp/ or incoming/.
    expect(await queueLeftovers(root, QUEUES)).toEqual([]);

    // The rejected upload, whole, with the remarks.
    expect(await namesIn(join(root, 'rejected'))).toEqual(['0000000003_motd-banner_2.3']);
    const rejected = join(root, 'rejected', '0000000003_motd-banner_2.3');
    expect(await namesIn(rejected)).toEqual(['REMARKS', 'motd-banner_2.3.changes', 'motd-banner_2.3_src.opk']);
    expect(await readFile(join(rejected, 'REMARKS'), 'utf8')).toContain(remarks);

    // The mail.
    expect(await outboxSubjects(root)).toEqual(
      [
        'Accepted hello 1.0-1',
        'Accepted libgreet 0.9~rc1-1',
        'Rejected motd-banner 2.3',
        'Build succeeded hello 1.0-1 all/all',
        `Build succeeded hello 1.0-1 ${arch}/all`,
        `Build succeeded libgreet 0.9~rc1-1 ${arch}/all`,
        'Installed hello 1.0-1 in dev/trunk',
        'Installed libgreet 0.9~rc1-1 in dev/trunk',
      ].sort(),
    );

    // SIGTERM: each daemon exits 0 within a few seconds, and no build process is left.
    for (const daemon of running) {
      const exit = await daemons.signal(daemon, 'SIGTERM', 5_000);
      expect({ daemon: daemon.label, exitCode: exit.exitCode, signal: exit.signal }).toEqual({
        daemon: daemon.label,
        exitCode: 0,
        signal: undefined,
      });
      expect(daemon.stderr()).toMatch(/event=stopped/);
    }
    const left = await processesWithin(root);
    expect(left, describeProcesses(left)).toEqual([]);
    expect(running.map((daemon) => daemon.stderr()).join('')).not.toMatch(/event=(?:build-failed|refused|watch-error)/);
  }, 120_000);
});
