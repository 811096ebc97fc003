/**
 * buildd stopped (SIGTERM) or killed (SIGKILL) in the middle of a build with
 * the built-in builder, in the sandbox where bwrap works here: nothing of the
 * build keeps running (a child it detached with setsid included), the build
 * is retried from a fresh work directory, no work directory is left, and the
 * package reaches the archive exactly once. A build that times out is killed
 * whole the same way and recorded as failed.
 *
 * The first buildd runs with OPKFARM_TEST_SLOW_BUILD in its environment,
 * which builds inherit: that build marks its work directory, detaches a
 * never-ending child and sleeps. The buildd that retries runs without it.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probeBubblewrap } from '../../lib/build/sandbox.js';
import { acceptUpload } from '../../lib/queue/accept.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { describeRoot, feedProblems, initFarmInProcess, namesIn, poolFiles, queueLeftovers } from '../support/farm.js';
import { describeProcesses, killGroup, processesMentioning, processesWithin } from '../support/processes.js';
import { runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

const KEY = '0000000001_slowpkg_1.0';
const QUEUE = 'indep';
const sandboxed = (await probeBubblewrap()).usable;

const { directory, daemons } = usePipelineScratch('buildd-killed');

/** Markers of the never-ending children builds detach: a failed test must not leave them running. */
const markers: string[] = [];
afterEach(async () => {
  for (const marker of markers.splice(0)) for (const { pid } of await processesMentioning(marker)) killGroup(pid);
});

/** A farm holding one accepted upload whose build, in a slow buildd's environment, detaches `marker` and sleeps. */
async function farmWithSlowBuild(marker: string, sandbox: 'auto' | 'none' = 'auto', buildTimeoutSeconds = 120): Promise<string> {
  const base = directory();
  const root = join(base, 'root');
  // Made in this process: the programs under test are the daemons, and every process started costs seconds on a busy CI host.
  const { layout, config } = await initFarmInProcess(root, {
    queues: [{ name: QUEUE, architectures: ['all'] }],
    rescanSeconds: 1,
    sandbox,
    buildTimeoutSeconds,
  });
  const source = await writeSourcePackage(join(base, 'sources'), {
    name: 'slowpkg',
    version: '1.0',
    binaries: [{ name: 'slowpkg', architecture: 'all' }],
    buildRecipe: [
      // What the work directory holds when the build starts: only the builder's copy of the source.
      '@echo "work directory before: $$(ls -A ..)"',
      'touch ../left-by-the-first-attempt',
      `@if [ -n "$$OPKFARM_TEST_SLOW_BUILD" ]; then setsid sh -c 'while :; do sleep 1; done' ${marker} >/dev/null 2>&1 </dev/null & echo "slow build started"; sleep 1000; fi`,
    ],
  });
  const upload = await buildSourcePackage(source, { outputDirectory: layout.incoming });
  await acceptUpload(layout, config, upload.changesFile, 'ok');
  return root;
}

/** The build log of the build in progress, once it says it started. */
async function waitForSlowBuild(root: string): Promise<string> {
  return waitFor(
    'the slow build to start',
    async () => {
      for (const name of await namesIn(join(root, 'tmp'))) {
        if (!name.startsWith(`.tmp-build-${KEY}-`)) continue;
        const log = await readFile(join(root, 'tmp', name, 'build.log'), 'utf8').catch(() => '');
        if (log.includes('slow build started')) return name;
      }
      return undefined;
    },
    { timeoutMs: 20_000, diagnostics: () => daemons.logs() },
  );
}

/** Runs a program once to the end, failing the test on a non-zero exit; returns its stderr. */
async function runOnce(program: 'buildd' | 'builddd' | 'archived', root: string): Promise<string> {
  const args = ['--root', root, '--once', ...(program === 'buildd' ? ['--queue', QUEUE] : [])];
  const result = await runProgram(program, args);
  if (result.exitCode !== 0) throw new Error(`${program} ${args.join(' ')} exited ${String(result.exitCode)}:\n${String(result.stderr)}`);
  return String(result.stderr);
}

async function expectArchivedOnce(root: string): Promise<void> {
  expect(await poolFiles(root)).toEqual(['s/slowpkg/slowpkg_1.0_all_all.opk', 's/slowpkg/src-slowpkg_1.0_src_all.opk']);
  expect(await feedProblems(root)).toEqual([]);
  const logs = join(root, 'archive', 'logs', 'slowpkg');
  expect((await readdir(logs)).sort()).toEqual([`${KEY}.changes`, `${KEY}_all_all.log`, `${KEY}_all_all.result`]);
  expect(await readFile(join(logs, `${KEY}_all_all.result`), 'utf8')).toMatch(/^Status: ok$/m);
  const log = await readFile(join(logs, `${KEY}_all_all.log`), 'utf8');
  // The retry started from a fresh work directory: nothing of the first attempt in it.
  expect(log).toMatch(/^work directory before: source$/m);
  expect(log).not.toContain('slow build started');
  expect(await queueLeftovers(root, [QUEUE]), await describeRoot(root, [QUEUE])).toEqual([]);
  expect(await processesWithin(root)).toEqual([]);
}

describe(`a build cut short: buildd stopped or killed, or the build timed out${sandboxed ? '' : ' (bwrap is not usable here: auto builds unconfined)'}`, () => {
  it('SIGTERM: the build is killed whole, the claim returned, the work directory removed; the retry builds it once', async () => {
    const marker = `opkfarm-test-sigterm-${process.pid}-${Date.now()}`;
    markers.push(marker);
    const root = await farmWithSlowBuild(marker);
    const first = daemons.start('buildd', ['--root', root, '--queue', QUEUE], { OPKFARM_TEST_SLOW_BUILD: '1' });
    const work = await waitForSlowBuild(root);
    expect(await processesMentioning(marker)).not.toEqual([]);

    const exit = await daemons.signal(first, 'SIGTERM');
    expect(exit.exitCode, first.stderr()).toBe(0);
    expect(first.stderr()).toMatch(new RegExp(`event=claim-returned queue=${QUEUE} key=${KEY} source=slowpkg version=1.0`));
    const left = await processesMentioning(marker);
    expect(left, `still running:\n${describeProcesses(left)}`).toEqual([]);
    expect(await namesIn(join(root, 'tmp'))).not.toContain(work);
    expect(await namesIn(join(root, 'queues', 'buildd', QUEUE))).toEqual([`${KEY}.opk`, 'claims']);

    await runOnce('buildd', root);
    await runOnce('builddd', root);
    await runOnce('archived', root);
    await expectArchivedOnce(root);
  }, 60_000);

  it.each([
    { sandbox: 'auto', confined: sandboxed },
    // Without the PID namespace the detached child outlives buildd, until the next buildd finds it by its marker.
    { sandbox: 'none', confined: false },
  ] as const)('SIGKILL, Builder-Sandbox $sandbox: nothing of the build survives the next buildd, which returns the claim and removes the work directory', async ({ sandbox, confined }) => {
    const marker = `opkfarm-test-sigkill-${sandbox}-${process.pid}-${Date.now()}`;
    markers.push(marker);
    const root = await farmWithSlowBuild(marker, sandbox);
    const first = daemons.start('buildd', ['--root', root, '--queue', QUEUE], { OPKFARM_TEST_SLOW_BUILD: '1' });
    const work = await waitForSlowBuild(root);

    expect((await daemons.signal(first, 'SIGKILL')).signal).toBe('SIGKILL');
    // SIGKILL leaves the claim and the work directory; in the sandbox, the build dies with its buildd.
    expect(await namesIn(join(root, 'queues', 'buildd', QUEUE, 'claims'))).toHaveLength(1);
    expect(await namesIn(join(root, 'tmp'))).toContain(work);
    if (!confined) expect(await processesMentioning(marker)).not.toEqual([]);
    else {
      await waitFor('the sandboxed build to die with its buildd', async () => (await processesMentioning(marker)).length === 0, {
        timeoutMs: 3_000,
        diagnostics: async () => describeProcesses(await processesMentioning(marker)),
      });
    }

    const log = await runOnce('buildd', root);
    expect(log).toMatch(new RegExp(`event=claim-returned queue=${QUEUE} key=${KEY} owner=[^@\\s]+@${first.pid} source=slowpkg version=1.0`));
    expect(log).toContain(`event=work-directory-removed name=${work}`);
    const left = await processesMentioning(marker);
    expect(left, `still running:\n${describeProcesses(left)}`).toEqual([]);

    await runOnce('builddd', root);
    await runOnce('archived', root);
    await expectArchivedOnce(root);
  }, 60_000);

  it('a build that times out is killed whole and recorded as failed, and its work directory goes', async () => {
    const marker = `opkfarm-test-timeout-${process.pid}-${Date.now()}`;
    markers.push(marker);
    const root = await farmWithSlowBuild(marker, 'auto', 1);
    const result = await runProgram('buildd', ['--root', root, '--queue', QUEUE, '--once'], { env: { OPKFARM_TEST_SLOW_BUILD: '1' } });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stderr)).toMatch(new RegExp(`event=build-failed queue=${QUEUE} key=${KEY} architecture=all platform=all .*error="build build: timed out after 1 s"`));
    const entry = join(root, 'archive-queue', KEY);
    expect(await readFile(join(entry, 'all_all.result'), 'utf8')).toMatch(/^Error: build build: timed out after 1 s$/m);
    expect(await readFile(join(entry, 'all_all.log'), 'utf8')).toMatch(/^opkfarm: killed after 1 s$/m);
    const left = await processesMentioning(marker);
    expect(left, `still running:\n${describeProcesses(left)}`).toEqual([]);
    expect(await namesIn(join(root, 'tmp'))).toEqual([]);
    expect(await processesWithin(root)).toEqual([]);
  }, 30_000);
});
