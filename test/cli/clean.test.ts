/**
 * `opkfarm clean` on a real queue root where dead and live processes left
 * work directories, temporary files and claims: --dry-run lists exactly what
 * the dead left, with sizes, and changes nothing; without it those go (a
 * stale claim back to its queue, a process still running in a dead build's
 * directory killed), and everything a live process owns stays.
 */
import { link, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentProcess } from '../../lib/queue/heartbeat.js';
import { initFarmInProcess, namesIn, removeScratch, scratchDirectory } from '../support/farm.js';
import { isRunning } from '../support/processes.js';
import { runProgram } from '../support/programs.js';

const KEY = '0000000001_hello_1.0';
const OTHER_KEY = '0000000002_hello_1.1';
const HOST = currentProcess().host;
const TWO_HOURS_AGO = new Date(Date.now() - 2 * 3600 * 1000);

let scratch: string | undefined;
let straggler: ResultPromise | undefined;

beforeEach(async () => {
  scratch = await scratchDirectory('clean');
});

afterEach(async () => {
  straggler?.kill('SIGKILL');
  await straggler;
  straggler = undefined;
  await removeScratch(scratch);
});

/** A pid that was alive a moment ago and is not any more. */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

/** Orders lines as clean does: by path (the first word), compared as plain strings. */
function byPath(a: string, b: string): number {
  const [pathA = '', pathB = ''] = [a.split(' ')[0], b.split(' ')[0]];
  return pathA < pathB ? -1 : pathA > pathB ? 1 : 0;
}

async function file(path: string, bytes: number, mtime?: Date): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, 'x'.repeat(bytes));
  if (mtime !== undefined) await utimes(path, mtime, mtime);
}

describe('opkfarm clean', () => {
  it('lists exactly what dead processes left, with sizes, and removes only that', async () => {
    const root = join(scratch as string, 'root');
    await initFarmInProcess(root, { queues: [{ name: 'indep', architectures: ['all'] }] });
    const dead = await deadPid();
    const live = process.pid;
    const tmp = join(root, 'tmp');
    const claims = join(root, 'queues', 'buildd', 'indep', 'claims');

    // What the dead left.
    const deadWork = `.tmp-build-${KEY}-all_all@${HOST}@${dead}-abc123`;
    await file(join(tmp, deadWork, 'work', 'object.o'), 3000);
    await file(join(tmp, deadWork, 'build.log'), 72);
    await file(join(tmp, `.tmp-unpack-${KEY}@${HOST}@${dead}-def456`, 'usr', 'src', 'payload'), 500);
    await file(join(tmp, `.tmp-build-${KEY}-all@${HOST}@${dead}-unusable.log`), 300);
    await file(join(tmp, `.tmp-build-${KEY}-all_all@far-away@4242-jkl012`, 'build.log'), 10);
    await file(join(root, 'queues', 'master', `${KEY}.opk`), 200);
    await link(join(root, 'queues', 'master', `${KEY}.opk`), join(claims, `${KEY}.opk@${HOST}@${dead}`));
    await file(join(root, 'archive-queue', KEY, '.tmp-0a1b2c3d4e5f-hello_1.0_all_all.opk'), 100, TWO_HOURS_AGO);
    // A process still running in the dead build's directory.
    straggler = execa('sleep', ['30'], { cwd: join(tmp, deadWork, 'work'), reject: false });

    // What live processes own, and what only buildq may finish.
    const liveWork = `.tmp-build-${OTHER_KEY}-all_all@${HOST}@${live}-ghi789`;
    await file(join(tmp, liveWork, 'build.log'), 10);
    await file(join(tmp, `.tmp-build-${OTHER_KEY}-all_all@near-by@77-mno345`, 'build.log'), 10);
    await file(join(root, 'state', 'heartbeats', 'buildd@near-by@77'), 10);
    await file(join(root, 'queues', 'master', `${OTHER_KEY}.opk`), 200);
    await link(join(root, 'queues', 'master', `${OTHER_KEY}.opk`), join(claims, `${OTHER_KEY}.opk@${HOST}@${live}`));
    await file(join(root, 'outbox', '.tmp-a1b2c3d4e5f6-0001.eml'), 50);
    await file(join(tmp, `.tmp-accept-${OTHER_KEY}.opk`), 200, TWO_HOURS_AGO);
    await file(join(root, 'queues', 'buildd', 'indep', `.tmp-${OTHER_KEY}.opk`), 200, TWO_HOURS_AGO);

    const expected = [
      `archive-queue/${KEY}/.tmp-0a1b2c3d4e5f-hello_1.0_all_all.opk (temporary file unchanged for longer than Lease-Seconds, 100 bytes)`,
      `queues/buildd/indep/claims/${KEY}.opk@${HOST}@${dead} to its queue (stale claim of pid ${dead} on ${HOST}, 200 bytes)`,
      `tmp/.tmp-build-${KEY}-all@${HOST}@${dead}-unusable.log (build log of pid ${dead} on ${HOST}, 300 bytes)`,
      `tmp/.tmp-build-${KEY}-all_all@${HOST}@${dead}-abc123 (work directory of pid ${dead} on ${HOST}, 3.0 KiB)`,
      `tmp/.tmp-build-${KEY}-all_all@far-away@4242-jkl012 (work directory of pid 4242 on far-away, 10 bytes)`,
      `tmp/.tmp-unpack-${KEY}@${HOST}@${dead}-def456 (unpack directory of pid ${dead} on ${HOST}, 500 bytes)`,
    ].sort(byPath);
    const verb = (line: string, dryRun: boolean) =>
      line.includes('stale claim') ? `${dryRun ? 'would return' : 'returned'} ${line}` : `${dryRun ? 'would remove' : 'removed'} ${line}`;

    const listed = await runProgram('opkfarm', ['clean', '--dry-run', '--root', root]);
    expect(listed.stderr).toBe('');
    expect(String(listed.stdout).split('\n')).toEqual([
      ...expected.map((line) => verb(line, true)),
      '6 leftovers, 4.1 KiB in all: nothing changed (--dry-run)',
    ]);
    expect(await namesIn(claims)).toHaveLength(2);
    expect(await namesIn(join(tmp, deadWork))).toEqual(['build.log', 'work']);

    const cleaned = await runProgram('opkfarm', ['clean', '--root', root]);
    expect(cleaned.exitCode, String(cleaned.stderr)).toBe(0);
    expect(String(cleaned.stdout).split('\n')).toEqual([...expected.map((line) => verb(line, false)), '6 leftovers, 4.1 KiB in all']);
    expect(await namesIn(tmp)).toEqual([`.tmp-accept-${OTHER_KEY}.opk`, `.tmp-build-${OTHER_KEY}-all_all@near-by@77-mno345`, liveWork]);
    expect(await namesIn(claims)).toEqual([`${OTHER_KEY}.opk@${HOST}@${live}`]);
    expect(await namesIn(join(root, 'queues', 'buildd', 'indep'))).toEqual([`${KEY}.opk`, `.tmp-${OTHER_KEY}.opk`, 'claims'].sort());
    expect(await namesIn(join(root, 'archive-queue', KEY))).toEqual([]);
    expect(await namesIn(join(root, 'outbox'))).toEqual(['.tmp-a1b2c3d4e5f6-0001.eml']);
    expect(straggler.pid !== undefined && (await isRunning(straggler.pid))).toBe(false);

    const again = await runProgram('opkfarm', ['clean', '--dry-run', '--root', root]);
    expect(String(again.stdout)).toBe(`no leftovers in ${root}`);
  });
});
