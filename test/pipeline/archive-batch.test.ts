/**
 * archived's group commit (Archive-Batch-Wait-Milliseconds): with an upload
 * still on its way (in master/), a complete entry waits for it, and the two
 * are included as one batch as soon as it arrives; with a wait of 0 the
 * complete entry is included at once, alone.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { buildUpload, buildq, indexedNames, initFarm } from '../support/farm.js';
import { runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

const { directory, daemons } = usePipelineScratch('archive-batch');

/** A farm with one queue for `all` and two accepted uploads, the first built and complete in the archive queue. */
async function farmWithOneUploadOnItsWay(batchWait: number): Promise<string> {
  const base = directory();
  const root = join(base, 'root');
  await initFarm(root, { queues: [{ name: 'indep', architectures: ['all'] }], archiveBatchWaitMilliseconds: batchWait, sandbox: 'none' });
  for (const name of ['firstpkg', 'secondpkg']) {
    const source = await writeSourcePackage(join(base, 'sources'), { name, version: '1.0', binaries: [{ name, architecture: 'all' }] });
    await buildUpload(source, join(root, 'uploads', 'incoming'));
  }
  await buildq(root, ['accept', 'firstpkg', '1.0', '--remarks', 'ok']);
  await buildOnce(root);
  await buildq(root, ['accept', 'secondpkg', '1.0', '--remarks', 'ok']);
  return root;
}

/** buildd and builddd with --once: what is accepted becomes complete in the archive queue. */
async function buildOnce(root: string): Promise<void> {
  for (const [program, args] of [['buildd', ['--queue', 'indep']], ['builddd', []]] as const) {
    const run = await runProgram(program, ['--root', root, '--once', ...args]);
    if (run.exitCode !== 0) throw new Error(`${program} --once exited ${String(run.exitCode)}: ${String(run.stderr)}`);
  }
}

/** The batch= field of archived's installed event for `source`, once it is logged. */
async function installedBatch(log: () => string, source: string): Promise<string> {
  const line = await waitFor(`archived to install ${source}`, () => log().split('\n').find((text) => text.includes(`event=installed`) && text.includes(`source=${source} `)), {
    timeoutMs: 60_000,
    diagnostics: () => log(),
  });
  return /\bbatch=(\d+)/.exec(line)?.[1] ?? `no batch field in: ${line}`;
}

describe('archived batches', () => {
  it('wait for an upload on its way, and include it with the complete one as one batch', async () => {
    const root = await farmWithOneUploadOnItsWay(10_000);
    const archived = daemons.start('archived', ['--root', root]);
    await waitFor('archived to start', () => archived.stderr().includes('event=started'), { timeoutMs: 30_000, diagnostics: () => archived.stderr() });

    await buildOnce(root);
    expect(await installedBatch(() => archived.stderr(), 'firstpkg')).toBe('2');
    expect(await installedBatch(() => archived.stderr(), 'secondpkg')).toBe('2');
    expect(await indexedNames(root)).toEqual(expect.arrayContaining(['firstpkg', 'secondpkg']));
  });

  it('with a wait of 0, include a complete entry at once, alone', async () => {
    const root = await farmWithOneUploadOnItsWay(0);
    const archived = daemons.start('archived', ['--root', root]);
    expect(await installedBatch(() => archived.stderr(), 'firstpkg')).toBe('1');

    await buildOnce(root);
    expect(await installedBatch(() => archived.stderr(), 'secondpkg')).toBe('1');
  });
});
