/**
 * A hostile upload through the real buildd (Builder-Sandbox: bwrap, the
 * built-in builder): its makefile tries to reach a TCP listener this test
 * runs, to write into the test's scratch directory and into the queue root,
 * detaches a never-ending child, and fails. The failure is recorded like any
 * other; nothing outside the build changed, no process of it is left, and no
 * work directory remains. Without a usable bwrap, buildd says so at start
 * (auto) or refuses to start (bwrap).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probeBubblewrap } from '../../lib/build/sandbox.js';
import { acceptUpload } from '../../lib/queue/accept.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { describeRoot, initFarmInProcess, namesIn } from '../support/farm.js';
import { describeProcesses, killGroup, processesMentioning, processesWithin } from '../support/processes.js';
import { runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';

const KEY = '0000000001_hostile_1.0';
const probe = await probeBubblewrap();

const { directory } = usePipelineScratch('sandboxed-build');

/** Markers of the never-ending children builds detach: a failed test must not leave them running. */
const markers: string[] = [];
afterEach(async () => {
  for (const marker of markers.splice(0)) for (const { pid } of await processesMentioning(marker)) killGroup(pid);
});

const exists = (path: string) => stat(path).then(() => true, () => false);

describe(`a hostile upload built by buildd in the sandbox${probe.usable ? '' : ` (skipped: ${probe.reason})`}`, () => {
  it.skipIf(!probe.usable)('fails, reaches nothing, changes nothing outside and leaves no process or work directory', async () => {
    const base = directory();
    const root = join(base, 'root');
    const marker = `opkfarm-test-hostile-${process.pid}-${Date.now()}`;
    markers.push(marker);
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const { layout, config } = await initFarmInProcess(root, { queues: [{ name: 'indep', architectures: ['all'] }], sandbox: 'bwrap' });
      const source = await writeSourcePackage(join(base, 'sources'), {
        name: 'hostile',
        version: '1.0',
        binaries: [{ name: 'hostile', architecture: 'all' }],
        buildRecipe: ['bash src/hostile.sh'],
      });
      await writeFile(
        join(source, 'src', 'hostile.sh'),
        [
          `if (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo "network: reached"; else echo "network: unreachable"; fi`,
          `for target in ${base}/escaped ${root}/incoming/escaped ${root}/queues/master/escaped; do`,
          '  echo escaped > "$target"',
          'done',
          `setsid sh -c 'while :; do sleep 1; done' ${marker} >/dev/null 2>&1 </dev/null &`,
          'echo "hostile: giving up"',
          'exit 1',
          '',
        ].join('\n'),
      );
      // Set up in this process: what is tested is buildd.
      const upload = await buildSourcePackage(source, { outputDirectory: layout.incoming });
      await acceptUpload(layout, config, upload.changesFile, 'ok');

      const buildd = await runProgram('buildd', ['--root', root, '--queue', 'indep', '--once']);
      const events = String(buildd.stderr);
      expect(buildd.exitCode, events).toBe(0);
      expect(events).toMatch(/event=sandbox queue=indep sandbox=bwrap/);
      expect(events).toMatch(new RegExp(`event=build-failed queue=indep key=${KEY} architecture=all platform=all .*source=hostile version=1.0`));

      const entry = join(root, 'archive-queue', KEY);
      expect(await readFile(join(entry, 'all_all.result'), 'utf8')).toMatch(/^Status: failed$/m);
      const log = await readFile(join(entry, 'all_all.log'), 'utf8');
      expect(log).toMatch(/^network: unreachable$/m);
      expect(log).toMatch(/^hostile: giving up$/m);
      expect(connections).toBe(0);
      // Under the private /tmp a write may succeed inside the sandbox (this test's scratch is in /tmp): what counts is the host.
      for (const target of [join(base, 'escaped'), join(root, 'uploads', 'incoming', 'escaped'), join(root, 'queues', 'master', 'escaped')]) {
        expect(await exists(target), target).toBe(false);
      }
      const left = await processesMentioning(marker);
      expect(left, `still running:\n${describeProcesses(left)}`).toEqual([]);
      expect(await processesWithin(root)).toEqual([]);
      // The failed build went through the queue like any other: popped, only its entry in archive-queue/.
      const diagnostics = await describeRoot(root, ['indep']);
      expect(await namesIn(join(root, 'tmp')), diagnostics).toEqual([]);
      expect(await namesIn(join(root, 'queues', 'buildd', 'indep')), diagnostics).toEqual(['claims']);
      expect(await namesIn(join(root, 'queues', 'buildd', 'indep', 'claims')), diagnostics).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 60_000);
});

describe('buildd without a usable bwrap', () => {
  // PATH without bwrap: buildd itself runs from an absolute path, and with nothing queued it runs nothing else.
  const noBwrap = { env: { PATH: '/nonexistent' } };

  it('says once, at start, that builds run unconfined and why (Builder-Sandbox: auto)', async () => {
    const root = join(directory(), 'root');
    await initFarmInProcess(root, { queues: [{ name: 'indep', architectures: ['all'] }] });
    const buildd = await runProgram('buildd', ['--root', root, '--queue', 'indep', '--once'], noBwrap);
    expect(buildd.exitCode, String(buildd.stderr)).toBe(0);
    const lines = String(buildd.stderr).split('\n').filter((line) => line.includes('event=sandbox'));
    expect(lines).toEqual(['program=buildd event=sandbox queue=indep sandbox=none reason="bwrap is not installed (Debian package bubblewrap)"']);
  });

  it('refuses to start with Builder-Sandbox: bwrap, naming the key', async () => {
    const root = join(directory(), 'root');
    await initFarmInProcess(root, { queues: [{ name: 'indep', architectures: ['all'] }], sandbox: 'bwrap' });
    const buildd = await runProgram('buildd', ['--root', root, '--queue', 'indep', '--once'], noBwrap);
    expect(buildd.exitCode).toBe(69);
    expect(String(buildd.stderr)).toBe(
      `buildd: ${root}/opkfarm.conf: Builder-Sandbox is bwrap for queue "indep", but bwrap is not installed (Debian package bubblewrap); ` +
        'install bubblewrap, or set Builder-Sandbox to auto or none',
    );
  });
});
