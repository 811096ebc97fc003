/**
 * buildd killed with SIGKILL in the middle of a build (PIPELINE.md, I5 and
 * I8): the next buildd of the host returns the dead process's claim, removes
 * its work directory and stops what its build left running; the package is
 * then built once and archived once.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countedBuilds, writeCommandBuilder } from '../support/builders.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import {
  buildUpload,
  buildq,
  describeRoot,
  feedProblems,
  initFarm,
  namesIn,
  outboxSubjects,
  pipelineSettled,
  poolFiles,
  queueLeftovers,
} from '../support/farm.js';
import { describeProcesses, killGroup, processGroupMembers, processesWithin } from '../support/processes.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

const KEY = '0000000001_slowpkg_1.0';

let buildGroup: number | undefined;
const { directory, daemons } = usePipelineScratch('restart', () => {
  if (buildGroup !== undefined) killGroup(buildGroup);
  buildGroup = undefined;
});

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('buildd killed during a build', () => {
  it('the next buildd returns the claim, removes the work directory, kills the build, and the package is built once', async () => {
    const base = directory();
    const root = join(base, 'root');
    const counter = join(base, 'builds');
    const slow = { marker: join(base, 'slept'), pidFile: join(base, 'build.pid'), started: join(base, 'started'), seconds: 30 };
    const builder = await writeCommandBuilder({ directory: base, counter, slowFirstBuild: slow });
    // Unconfined: the test builder lives in the scratch directory and counts its builds in a file there,
    // both out of a sandboxed build's sight (test/pipeline/buildd-killed.test.ts covers the sandboxed case).
    await initFarm(root, {
      queues: [{ name: 'indep', architectures: ['all'] }],
      builderCommand: builder,
      sandbox: 'none',
      rescanSeconds: 1,
    });
    const source = await writeSourcePackage(join(base, 'sources'), {
      name: 'slowpkg',
      version: '1.0',
      binaries: [{ name: 'slowpkg', architecture: 'all' }],
    });
    await buildUpload(source, join(root, 'uploads', 'incoming'));
    await buildq(root, ['accept', 'slowpkg', '1.0', '--remarks', 'ok']);

    const first = daemons.start('buildd', ['--root', root, '--queue', 'indep']);
    await waitFor('the first build to start', () => exists(slow.started), {
      timeoutMs: 30_000,
      diagnostics: () => daemons.logs(),
    });
    buildGroup = Number((await readFile(slow.pidFile, 'utf8')).trim());
    expect(await processGroupMembers(buildGroup)).not.toEqual([]);
    const claims = await namesIn(join(root, 'queues', 'buildd', 'indep', 'claims'));
    expect(claims).toHaveLength(1);
    expect(claims[0]).toMatch(new RegExp(`^${KEY}\\.opk@[^@]+@${first.pid}$`));
    const workDirectories = (await namesIn(join(root, 'tmp'))).filter((name) => name.startsWith(`.tmp-build-${KEY}-all_all@`));
    expect(workDirectories).toHaveLength(1);
    const work = join(root, 'tmp', workDirectories[0] as string);

    const killed = await daemons.signal(first, 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    // SIGKILL leaves everything as it was: the claim, the work directory, the build's processes.
    expect(await namesIn(join(root, 'queues', 'buildd', 'indep', 'claims'))).toEqual(claims);
    expect(await exists(work)).toBe(true);
    expect(await processGroupMembers(buildGroup)).not.toEqual([]);

    const second = daemons.start('buildd', ['--root', root, '--queue', 'indep']);
    daemons.start('builddd', ['--root', root]);
    daemons.start('archived', ['--root', root]);
    await waitFor(
      'the package to be archived and every queue directory to be empty',
      () => pipelineSettled(root, ['indep'], ['slowpkg', 'src-slowpkg']),
      { timeoutMs: 60_000, diagnostics: async () => `${await describeRoot(root, ['indep'])}\n${daemons.logs()}` },
    );

    const log = second.stderr();
    expect(log).toMatch(new RegExp(`event=claim-returned queue=indep key=${KEY} owner=[^@\\s]+@${first.pid}\\b`));
    expect(log).toContain(`event=work-directory-removed name=${workDirectories[0]}`);
    expect(await exists(work)).toBe(false);
    const left = await processGroupMembers(buildGroup);
    expect(left, `the killed build's processes are still running:\n${describeProcesses(left)}`).toEqual([]);
    expect(await processesWithin(root)).toEqual([]);

    // Built once, archived once, mailed once; nothing left in the queues.
    expect(await countedBuilds(counter)).toEqual(['slowpkg all all']);
    expect(await poolFiles(root)).toEqual(['s/slowpkg/slowpkg_1.0_all_all.opk', 's/slowpkg/src-slowpkg_1.0_src_all.opk']);
    expect(await feedProblems(root)).toEqual([]);
    expect(await namesIn(join(root, 'archive', 'logs', 'slowpkg'))).toEqual([`${KEY}.changes`, `${KEY}_all_all.log`, `${KEY}_all_all.result`]);
    expect(await readFile(join(root, 'archive', 'logs', 'slowpkg', `${KEY}_all_all.result`), 'utf8')).toMatch(/^Status: ok$/m);
    expect((await outboxSubjects(root)).filter((subject) => subject.startsWith('Build '))).toEqual(['Build succeeded slowpkg 1.0 all/all']);
    expect(await queueLeftovers(root, ['indep'])).toEqual([]);
  }, 120_000);
});
