/**
 * A build that fails on one architecture queue while the other succeeds
 * (PIPELINE.md step 2, I9): the failure is recorded, stored and mailed, the
 * entry is popped all the same, the successful architecture's binaries reach
 * the archive, and nothing is stuck.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import {
  buildUpload,
  buildq,
  describeRoot,
  feedProblems,
  initFarm,
  namesIn,
  nativeArchitecture,
  outboxSubjects,
  pipelineSettled,
  poolFiles,
  queueLeftovers,
} from '../support/farm.js';
import { processesWithin } from '../support/processes.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

const QUEUES = ['native', 'indep'];
const KEY = '0000000001_failpkg_1.0';

const { directory, daemons } = usePipelineScratch('failing-build');

describe('a build failing on one architecture', () => {
  it('is recorded, stored and mailed; the other architecture is archived; nothing is stuck', async () => {
    const base = directory();
    const root = join(base, 'root');
    const arch = nativeArchitecture();
    await initFarm(root, {
      queues: [
        { name: 'native', architectures: [arch] },
        { name: 'indep', architectures: ['all'] },
      ],
    });
    // The built-in builder runs this makefile; it fails for every architecture but `all`.
    const source = await writeSourcePackage(join(base, 'sources'), {
      name: 'failpkg',
      version: '1.0',
      binaries: [
        { name: 'failpkg-bin', architecture: 'any' },
        { name: 'failpkg-data', architecture: 'all' },
      ],
      buildRecipe: [
        '@echo "failpkg: building for $(OPK_HOST_ARCH)"',
        '@if [ "$(OPK_HOST_ARCH)" != all ]; then echo "failpkg: cannot build for $(OPK_HOST_ARCH)" >&2; exit 1; fi',
      ],
    });
    await buildUpload(source, join(root, 'uploads', 'incoming'));
    expect(await buildq(root, ['accept', 'failpkg', '1.0', '--remarks', 'ok'])).toContain('into indep, native');

    const native = daemons.start('buildd', ['--root', root, '--queue', 'native']);
    daemons.start('buildd', ['--root', root, '--queue', 'indep']);
    daemons.start('builddd', ['--root', root]);
    daemons.start('archived', ['--root', root]);
    await waitFor(
      'the upload to be archived and every queue directory to be empty',
      () => pipelineSettled(root, QUEUES, ['failpkg-data', 'src-failpkg']),
      { timeoutMs: 60_000, diagnostics: async () => `${await describeRoot(root, QUEUES)}\n${daemons.logs()}` },
    );

    // The failure: its result and log are stored with the archive.
    const logs = join(root, 'archive', 'logs', 'failpkg');
    expect(await namesIn(logs)).toEqual(
      [`${KEY}.changes`, `${KEY}_${arch}_all.log`, `${KEY}_${arch}_all.result`, `${KEY}_all_all.log`, `${KEY}_all_all.result`].sort(),
    );
    const failed = await readFile(join(logs, `${KEY}_${arch}_all.result`), 'utf8');
    expect(failed).toMatch(/^Status: failed$/m);
    expect(failed).toMatch(/^Error: build build: /m);
    expect(failed).toMatch(/^Binaries:/m);
    expect(await readFile(join(logs, `${KEY}_${arch}_all.log`), 'utf8')).toContain(`failpkg: cannot build for ${arch}`);
    expect(await readFile(join(logs, `${KEY}_all_all.result`), 'utf8')).toMatch(/^Status: ok$/m);
    expect(native.stderr()).toMatch(new RegExp(`event=build-failed queue=native key=${KEY} architecture=${arch}`));
    expect(native.stderr()).toMatch(new RegExp(`event=popped queue=native key=${KEY}`));

    // The mail: one build log per architecture, the failed one saying so, and the installed notice.
    expect(await outboxSubjects(root)).toEqual(
      [
        'Accepted failpkg 1.0',
        `Build failed failpkg 1.0 ${arch}/all`,
        'Build succeeded failpkg 1.0 all/all',
        'Installed failpkg 1.0 in dev/trunk',
      ].sort(),
    );

    // The other architecture's binaries (and the source) are in the archive, the failed one's are not.
    expect(await poolFiles(root)).toEqual(['f/failpkg/failpkg-data_1.0_all_all.opk', 'f/failpkg/src-failpkg_1.0_src_all.opk']);
    expect(await feedProblems(root)).toEqual([]);

    // Nothing stuck anywhere, no build process left.
    expect(await queueLeftovers(root, QUEUES)).toEqual([]);
    expect(await processesWithin(root)).toEqual([]);
  }, 120_000);
});
