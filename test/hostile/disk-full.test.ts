/**
 * Disk full: the farm on an 8 MiB filesystem (test/support/small-filesystem.ts;
 * skipped, saying why, where this machine allows no mount). Some uploads are
 * in the archive, some accepted and waiting for their builds, two waiting in
 * incoming/, when a filler file takes the last byte. Then every program runs
 * and fails: each says which file and ENOSPC in one line, nothing already
 * accepted is lost or changed, and no partial file shows under a queue, pool
 * or feed name. Nearly full (256 KiB left), the programs start but the large
 * upload's copy and the builds find no room: accept leaves no partial copy,
 * and buildd gives the claim back instead of recording a failed build. Once
 * the filler is deleted, the same programs run again and finish everything.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueLayout } from '../../lib/layout.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { writeSourcePackage } from '../support/sources.js';
import { writeCommandBuilder } from '../support/builders.js';
import { feedProblems, indexedNames, initFarmInProcess, namesIn, packagesFiles, poolFiles, queueLeftovers } from '../support/farm.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { programPath, type Program } from '../support/programs.js';
import { mountSmallFilesystem } from '../support/small-filesystem.js';
import { writeGoodUpload } from './craft.js';

const scratch = usePipelineScratch('hostile-disk-full');

const ARCHIVED = ['alpha', 'beta'];
const QUEUED = ['gamma', 'delta'];
const INCOMING = 'epsilon';
/** An upload of 600 KiB that cannot be packed smaller: its copy cannot fit a nearly full disk. */
const BIG = 'zeta';

/**
 * Writes zeros into `path` until the filesystem refuses (ENOSPC), then gives
 * back `leave` bytes; returns the error code seen.
 */
async function fillUp(path: string, leave = 0): Promise<string | undefined> {
  const handle = await open(path, 'w');
  try {
    for (const size of [256 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOSPC') return code;
          break;
        }
      }
    }
    await handle.truncate(Math.max(0, (await handle.stat()).size - leave));
    return 'ENOSPC';
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** SHA-256 of every pool file and feed index, by path. */
async function archiveSnapshot(root: string): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  const files = [...(await poolFiles(root)).map((file) => join(root, 'archive', 'pool', file)), ...(await packagesFiles(root))];
  for (const file of files) snapshot[file] = createHash('sha256').update(await readFile(file)).digest('hex');
  return snapshot;
}

/**
 * Makes an upload with `write` outside the small filesystem, then copies it
 * into incoming/ (source build resolves real paths, which a view through
 * /proc/<pid>/root does not have), the .changes last.
 */
async function upload(
  layout: QueueLayout,
  directory: string,
  source: string,
  write: (incoming: string, scratch: string, source: string) => Promise<void>,
): Promise<void> {
  const built = join(directory, 'built', source);
  await mkdir(built, { recursive: true });
  await write(built, join(directory, 'uploads'), source);
  for (const name of [`${source}_1.0_src.opk`, `${source}_1.0.changes`]) await copyFile(join(built, name), join(layout.incoming, name));
}

/** writeGoodUpload with 600 KiB of random bytes in the source tree. */
async function writeBigUpload(incoming: string, scratch: string, source: string): Promise<void> {
  const parent = join(scratch, `spf-${source}`);
  await mkdir(parent, { recursive: true });
  const tree = await writeSourcePackage(parent, { name: source, version: '1.0', binaries: [{ name: source, architecture: 'all' }] });
  await writeFile(join(tree, 'src', 'blob'), randomBytes(600 * 1024));
  await buildSourcePackage(tree, { outputDirectory: incoming, sourceDateEpoch: 1_700_000_000 });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function lastLine(stderr: unknown): string {
  return String(stderr).trimEnd().split('\n').at(-1) ?? '';
}

/** Temporary names anywhere but tmp/: what a reader could meet under a queue, pool or feed name. */
async function visibleTemporaries(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.filter((path) => !path.startsWith('tmp/') && basename(path).startsWith('.tmp-')).sort();
}

describe('a full disk', () => {
  it('loses nothing, says what failed, and the farm finishes once space is freed', { timeout: 180_000 }, async (context) => {
    const directory = scratch.directory();
    const filesystem = await mountSmallFilesystem(join(directory, 'small'), join(directory, 'small.img'), 8);
    if ('failed' in filesystem) {
      context.skip(`disk full: no small filesystem can be mounted here (${filesystem.failed.join('; ')})`);
      return;
    }
    try {
      // The programs see the queue root at `root`; this process at `view` (the same but for unshare).
      const root = join(filesystem.path, 'root');
      const view = filesystem.view(root);
      // Every build needs 1 MiB of room in its work directory first, as real builds need room,
      // and cleans up after itself when it fails, so the disk has room again for buildd's record.
      const good = await writeCommandBuilder({ directory, counter: join(directory, 'builds') });
      const builder = join(directory, 'roomy-builder.sh');
      await writeFile(builder, `#!/bin/sh\nhead -c 1048576 /dev/zero > room || { rm -f room; exit 1; }\nrm room\nexec '${good}' "$@"\n`);
      await chmod(builder, 0o755);
      const { layout } = await initFarmInProcess(view, {
        queues: [{ name: 'indep', architectures: ['all'] }],
        builderCommand: builder,
        sandbox: 'none',
      });
      const run = (program: Program, ...args: string[]) => filesystem.command(process.execPath, [programPath(program), '--root', root, ...args]);
      const runFarm = async () => {
        const results = [];
        for (const [program, args] of [
          ['buildd', ['--once', '--queue', 'indep']],
          ['builddd', ['--once']],
          ['archived', ['--once']],
        ] as const) {
          results.push({ program, result: await run(program, ...args) });
        }
        return results;
      };

      for (const source of ARCHIVED) {
        await upload(layout, directory, source, writeGoodUpload);
        expect((await run('buildq', 'accept', source, '1.0', '--remarks', '')).exitCode).toBe(0);
      }
      for (const { program, result } of await runFarm()) expect(result.exitCode, `${program}: ${String(result.stderr)}`).toBe(0);
      expect(await indexedNames(view)).toEqual(['alpha', 'beta', 'src-alpha', 'src-beta']);
      for (const source of QUEUED) {
        await upload(layout, directory, source, writeGoodUpload);
        expect((await run('buildq', 'accept', source, '1.0', '--remarks', '')).exitCode).toBe(0);
      }
      await upload(layout, directory, INCOMING, writeGoodUpload);
      await upload(layout, directory, BIG, writeBigUpload);
      const archiveBefore = await archiveSnapshot(view);
      const masterBefore = await namesIn(layout.master);

      expect(await fillUp(filesystem.view(join(filesystem.path, 'filler')))).toBe('ENOSPC');

      // Full: each program fails at its first write, naming the file and ENOSPC in its last line, exit 69, at once.
      const full = [{ program: 'buildq', result: await run('buildq', 'accept', INCOMING, '1.0', '--remarks', '') }, ...(await runFarm())];
      for (const { program, result } of full) {
        expect(result.exitCode, `${program}: ${String(result.stderr)}`).toBe(69);
        // Which write comes first depends on the filesystem: a lock's mkdir needs a block on ext4, not on tmpfs.
        expect(lastLine(result.stderr)).toMatch(new RegExp(`^${program}: ${escape(root)}/state/\\S+: cannot (write|lock): ENOSPC: no space left on device, (write|mkdir '\\S+')$`));
      }
      expect(await visibleTemporaries(view)).toEqual([]);

      // Nothing accepted is lost or changed, nothing partial shows.
      expect(await archiveSnapshot(view)).toEqual(archiveBefore);
      expect(await feedProblems(view)).toEqual([]);
      expect(await namesIn(layout.master)).toEqual(masterBefore);
      expect(await namesIn(layout.incoming)).toEqual([`${INCOMING}_1.0.changes`, `${INCOMING}_1.0_src.opk`, `${BIG}_1.0.changes`, `${BIG}_1.0_src.opk`].sort());

      // Nearly full: the programs start, the build finds no room. It is not recorded as failed:
      // its claim goes back to the queue for when there is room.
      await rm(filesystem.view(join(filesystem.path, 'filler')));
      expect(await fillUp(filesystem.view(join(filesystem.path, 'filler')), 256 * 1024)).toBe('ENOSPC');
      const big = await run('buildq', 'accept', BIG, '1.0', '--remarks', '');
      expect(big.exitCode, String(big.stderr)).toBe(69);
      expect(lastLine(big.stderr)).toMatch(new RegExp(`^buildq: ${escape(root)}/tmp/\\.tmp-accept-\\d{10}_${BIG}_1\\.0\\.opk: cannot write: ENOSPC: no space left on device, write$`));
      expect((await namesIn(layout.tmp)).filter((name) => name.startsWith('.tmp-accept-'))).toEqual([]);
      expect((await namesIn(layout.incoming)).filter((name) => name.startsWith(BIG))).toEqual([`${BIG}_1.0.changes`, `${BIG}_1.0_src.opk`]);
      const [buildd, ...others] = await runFarm();
      expect(buildd?.result.exitCode, String(buildd?.result.stderr)).toBe(69);
      expect(lastLine(buildd?.result.stderr)).toMatch(
        /^buildd: \d{10}_gamma_1\.0: the build for all_all failed while the filesystem of \S+ had \d+ bytes free \(nearly full\): not recorded; the upload is back in queue indep, to be built again once there is room$/,
      );
      for (const { program, result } of others) expect(result.exitCode, `${program}: ${String(result.stderr)}`).toBe(0);
      expect((await namesIn(layout.buildQueue('indep'))).filter((name) => name !== 'claims')).toEqual(QUEUED.map((source, index) => `000000000${index + 3}_${source}_1.0.opk`));
      expect(await visibleTemporaries(view)).toEqual([]);
      expect(await archiveSnapshot(view)).toEqual(archiveBefore);
      expect(await namesIn(layout.master)).toEqual(masterBefore);
      for (const key of await namesIn(layout.archiveQueue)) {
        expect((await namesIn(join(layout.archiveQueue, key))).filter((name) => name.endsWith('.result')), key).toEqual([]);
      }

      await rm(filesystem.view(join(filesystem.path, 'filler')));
      const freed = [
        { program: 'buildq', result: await run('buildq', 'accept', INCOMING, '1.0', '--remarks', '') },
        { program: 'buildq', result: await run('buildq', 'accept', BIG, '1.0', '--remarks', '') },
        ...(await runFarm()),
      ];
      for (const { program, result } of freed) expect(result.exitCode, `${program}: ${String(result.stderr)}`).toBe(0);
      expect(await indexedNames(view)).toEqual(
        [...ARCHIVED, ...QUEUED, INCOMING, BIG].flatMap((source) => [source, `src-${source}`]).sort(),
      );
      expect(await feedProblems(view)).toEqual([]);
      expect(await queueLeftovers(view, ['indep'])).toEqual([]);
      const verify = await run('opkfarm', 'archive', 'verify');
      expect(verify.exitCode, String(verify.stdout)).toBe(0);
    } finally {
      await filesystem.unmount();
    }
  });
});
