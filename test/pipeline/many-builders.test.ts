/**
 * Three buildd processes serving one build queue, 50 uploads (PIPELINE.md
 * step 2: a claim is an atomic rename, so nothing is built twice): every
 * package is built exactly once, archived once, and no entry or claim is
 * left behind. A trivial external builder keeps it fast and counts builds.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countedBuilds, writeCommandBuilder } from '../support/builders.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import {
  buildUpload,
  buildq,
  describeRoot,
  feedProblems,
  inBatches,
  initFarm,
  outboxSubjects,
  pipelineSettled,
  poolFiles,
  queueLeftovers,
} from '../support/farm.js';
import { processesWithin } from '../support/processes.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

const UPLOADS = 50;
const BUILDERS = 3;

const { directory, daemons } = usePipelineScratch('many-builders');

/** `event=<event> queue=indep key=<key>` lines of buildd logs, as keys. */
function keysOf(log: string, event: string): string[] {
  return [...log.matchAll(new RegExp(`event=${event} queue=indep key=(\\S+)`, 'g'))].map((match) => match[1] as string);
}

describe('several buildd on one queue', () => {
  it(`build each of ${UPLOADS} uploads exactly once`, async () => {
    const base = directory();
    const root = join(base, 'root');
    const counter = join(base, 'builds');
    const builder = await writeCommandBuilder({ directory: base, counter });
    // Unconfined: the test builder lives in the scratch directory and counts its builds in a file there,
    // both out of a sandboxed build's sight (test/pipeline/buildd-killed.test.ts covers the sandboxed case).
    await initFarm(root, {
      queues: [{ name: 'indep', architectures: ['all'] }],
      builderCommand: builder,
      sandbox: 'none',
      rescanSeconds: 1,
    });

    const names = Array.from({ length: UPLOADS }, (_, index) => `pkg${String(index).padStart(2, '0')}`);
    const sources = [];
    for (const name of names) {
      sources.push(await writeSourcePackage(join(base, 'sources'), { name, version: '1.0', binaries: [{ name, architecture: 'all' }] }));
    }
    await inBatches(sources, 3, (source) => buildUpload(source, join(root, 'uploads', 'incoming')));

    // Half the uploads wait in the queue when the builders start; the rest arrive while they work.
    const accept = (name: string) => buildq(root, ['accept', name, '1.0', '--remarks', `accepting ${name}`]);
    await inBatches(names.slice(0, UPLOADS / 2), 2, accept);
    const builders = Array.from({ length: BUILDERS }, () => daemons.start('buildd', ['--root', root, '--queue', 'indep']));
    daemons.start('builddd', ['--root', root]);
    daemons.start('archived', ['--root', root]);
    await inBatches(names.slice(UPLOADS / 2), 2, accept);

    const expected = [...names, ...names.map((name) => `src-${name}`)].sort();
    await waitFor(
      `all ${UPLOADS} uploads to be archived and every queue directory to be empty`,
      () => pipelineSettled(root, ['indep'], expected),
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        diagnostics: async () => `${await describeRoot(root, ['indep'])}\nbuilds: ${(await countedBuilds(counter)).length}\n${daemons.logs()}`,
      },
    );

    // Each source built exactly once, by whichever buildd claimed it.
    expect(await countedBuilds(counter)).toEqual(names.map((name) => `${name} all all`));
    const claimed = builders.flatMap((daemon) => keysOf(daemon.stderr(), 'claimed'));
    const popped = builders.flatMap((daemon) => keysOf(daemon.stderr(), 'popped'));
    expect(claimed.sort()).toEqual([...new Set(claimed)].sort());
    expect(claimed).toHaveLength(UPLOADS);
    expect(popped.sort()).toEqual(claimed.sort());
    expect(builders.map((daemon) => daemon.stderr()).join('')).not.toMatch(/event=(?:claim-returned|build-failed)/);

    // Archived once each, mailed once each, nothing left in the queue, its claims, the archive queue or tmp/.
    expect(await poolFiles(root)).toHaveLength(2 * UPLOADS);
    expect(await feedProblems(root)).toEqual([]);
    const buildMails = (await outboxSubjects(root)).filter((subject) => subject.startsWith('Build '));
    expect(buildMails).toEqual(names.map((name) => `Build succeeded ${name} 1.0 all/all`));
    expect(await queueLeftovers(root, ['indep'])).toEqual([]);
    expect(await processesWithin(root)).toEqual([]);
  }, 120_000);
});
