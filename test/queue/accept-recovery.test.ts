/**
 * Crash recovery of buildq accept (lib/queue/accept.ts, steps 1–6 of its
 * header). A crash is simulated before every file operation acceptUpload
 * makes (link, rename, unlink, writeFile of node:fs/promises fail once, at
 * the chosen point, and nothing after it runs), so every window between two
 * steps is covered by the on-disk state the real code leaves there. Then
 * recoverAccepts must either undo (before the first link of step 3: the
 * upload is still in incoming/, master/ is empty) or finish (exactly one
 * master entry, one link per routed queue, the right link count) — and
 * never recreate a queue entry that was published and then built and popped.
 */
import { execFile } from 'node:child_process';
import { copyFile, link, lstat, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FarmConfig } from '../../lib/config.js';
import type { QueueLayout } from '../../lib/layout.js';
import { acceptUpload, recoverAccepts } from '../../lib/queue/accept.js';
import { claimEntry, finishClaim, pendingKeys } from '../../lib/queue/claims.js';
import { builtMasterEntries } from '../../lib/queue/complete.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { initFarmInProcess, namesIn, removeScratch, scratchDirectory } from '../support/farm.js';

/** Shared with the mock below: which mutating call fails, and what ran. */
const faults = vi.hoisted(() => ({
  /** Count and possibly fail calls only while true (during acceptUpload). */
  armed: false,
  /** 1-based index of the call that fails; 0 never. */
  crashAt: 0,
  calls: 0,
  /** The operations that ran (or the one that "crashed"), for messages. */
  log: [] as string[],
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const guard =
    <F extends (...args: never[]) => Promise<unknown>>(name: string, operation: F): F =>
    ((...args: Parameters<F>) => {
      if (faults.armed) {
        faults.calls += 1;
        const paths = (args as unknown[]).filter((arg): arg is string => typeof arg === 'string');
        const what = `${name} ${paths.slice(0, name === 'writeFile' ? 1 : 2).map((path) => path.split('/').slice(-2).join('/')).join(' -> ')}`;
        if (faults.calls === faults.crashAt) {
          faults.log.push(`CRASH before ${what}`);
          return Promise.reject(Object.assign(new Error(`simulated crash before ${what}`), { code: 'ESIMULATEDCRASH' }));
        }
        faults.log.push(what);
      }
      return operation(...args);
    }) as F;
  return {
    ...actual,
    default: actual,
    link: guard('link', actual.link),
    rename: guard('rename', actual.rename),
    unlink: guard('unlink', actual.unlink),
    writeFile: guard('writeFile', actual.writeFile),
  };
});

const HELLO = fileURLToPath(new URL('../../examples/hello/', import.meta.url));
const KEY = '0000000001_hello_1.0-1';
const QUEUES = ['indep', 'native'];
const REMARKS = 'Welcome to the archive.';
const UPLOAD_FILES = ['hello_1.0-1.changes', 'hello_1.0-1_src.opk'];

let uploads: string;
let uploadsScratch: string | undefined;
let scratch: string | undefined;

beforeAll(async () => {
  uploadsScratch = await scratchDirectory('accept-upload');
  uploads = join(uploadsScratch, 'upload');
  await buildSourcePackage(HELLO, { outputDirectory: uploads });
});

afterAll(async () => {
  await removeScratch(uploadsScratch);
});

beforeEach(async () => {
  scratch = await scratchDirectory('accept-recovery');
});

afterEach(async () => {
  faults.armed = false;
  await removeScratch(scratch);
  scratch = undefined;
});

let rootCount = 0;

/** A fresh root (hello routes to both queues: hello is `any`, hello-doc `all`) with the hello upload in incoming/. */
async function freshRoot(): Promise<{ layout: QueueLayout; config: FarmConfig }> {
  rootCount += 1;
  const farm = await initFarmInProcess(join(scratch as string, `root-${rootCount}`), {
    queues: [
      { name: 'indep', architectures: ['all'] },
      { name: 'native', architectures: ['amd64-linux-glibc'] },
    ],
  });
  for (const name of UPLOAD_FILES) await copyFile(join(uploads, name), join(farm.layout.incoming, name));
  return farm;
}

/** Runs acceptUpload with the `crashAt`-th mutating call failing; resolves whether it crashed. */
async function acceptCrashingAt(layout: QueueLayout, config: FarmConfig, crashAt: number): Promise<boolean> {
  faults.calls = 0;
  faults.crashAt = crashAt;
  faults.log = [];
  faults.armed = true;
  try {
    await acceptUpload(layout, config, join(layout.incoming, UPLOAD_FILES[0] as string), REMARKS);
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESIMULATEDCRASH') throw error;
    return true;
  } finally {
    faults.armed = false;
  }
}

/** What a buildd does to a published entry: claim it, build (nothing here), pop it. */
async function buildAndPop(layout: QueueLayout, queue: string): Promise<void> {
  const claim = await claimEntry(layout, queue, KEY, { host: 'builder', pid: 1 });
  if (!claim) throw new Error(`${queue}: no entry to claim`);
  await finishClaim(layout, claim);
}

async function linkCount(path: string): Promise<number> {
  return (await lstat(path)).nlink;
}

/** Asserts the state of a finished accept: one master entry, linked once into each queue not yet built. */
async function expectFinished(layout: QueueLayout, built: readonly string[], context: string): Promise<void> {
  expect(await namesIn(layout.master), context).toEqual([`${KEY}.changes`, `${KEY}.opk`]);
  expect(await readFile(layout.masterChanges(KEY), 'utf8'), context).toBe(await readFile(join(uploads, UPLOAD_FILES[0] as string), 'utf8'));
  expect(await readFile(layout.masterEntry(KEY)), context).toEqual(await readFile(join(uploads, UPLOAD_FILES[1] as string)));
  const waiting = QUEUES.filter((queue) => !built.includes(queue));
  expect(await linkCount(layout.masterEntry(KEY)), context).toBe(1 + waiting.length);
  for (const queue of QUEUES) {
    expect(await namesIn(layout.buildQueue(queue)), `${context}: queue ${queue}`).toEqual(
      waiting.includes(queue) ? [`${KEY}.opk`, 'claims'] : ['claims'],
    );
    if (waiting.includes(queue)) {
      const [entry, master] = await Promise.all([lstat(layout.buildQueueEntry(queue, KEY)), lstat(layout.masterEntry(KEY))]);
      expect(entry.ino, `${context}: queue ${queue} links the master entry`).toBe(master.ino);
    }
  }
  expect(await namesIn(layout.incoming), context).toEqual([]);
  expect(await namesIn(layout.tmp), context).toEqual([]);
}

/** Asserts the state of an undone accept: nothing accepted, the upload untouched in incoming/. */
async function expectUndone(layout: QueueLayout, context: string): Promise<void> {
  expect(await namesIn(layout.master), context).toEqual([]);
  for (const queue of QUEUES) expect(await namesIn(layout.buildQueue(queue)), context).toEqual(['claims']);
  expect(await namesIn(layout.incoming), context).toEqual(UPLOAD_FILES);
  for (const name of UPLOAD_FILES) {
    expect(await readFile(join(layout.incoming, name)), context).toEqual(await readFile(join(uploads, name)));
  }
  expect(await namesIn(layout.tmp), context).toEqual([]);
}

/** The number of mutating calls a whole accept makes. */
async function operationCount(): Promise<number> {
  const { layout, config } = await freshRoot();
  expect(await acceptCrashingAt(layout, config, 0)).toBe(false);
  await expectFinished(layout, [], 'accept without a crash');
  return faults.calls;
}

describe('recoverAccepts after a crash of acceptUpload', () => {
  it('undoes or finishes an accept interrupted before any of its file operations', async () => {
    const total = await operationCount();
    expect(total).toBeGreaterThan(10);
    let undone = 0;
    let finished = 0;
    for (let crashAt = 1; crashAt <= total; crashAt++) {
      const { layout, config } = await freshRoot();
      expect(await acceptCrashingAt(layout, config, crashAt)).toBe(true);
      const context = `crash at operation ${crashAt}/${total}:\n  ${faults.log.join('\n  ')}`;
      const wasLinked = await lstat(layout.masterEntry(KEY)).then(
        () => true,
        () => false,
      );
      const inTmp = await namesIn(layout.tmp);
      const hadMarker = inTmp.some((name) => /^\.tmp-(?:accept|publish)-.*\.opk$/.test(name));
      const hadRemarks = inTmp.includes(`.tmp-accept-${KEY}.remarks`);

      const recovered = await recoverAccepts(layout, config);

      if (!wasLinked) {
        expect(recovered, context).toEqual([]);
        await expectUndone(layout, context);
        undone += 1;
      } else {
        expect(recovered, context).toEqual(hadMarker ? [{ key: KEY, remarks: hadRemarks ? REMARKS : '' }] : []);
        await expectFinished(layout, [], context);
        finished += 1;
      }
      // Recovery is idempotent.
      expect(await recoverAccepts(layout, config), context).toEqual([]);
    }
    expect(undone).toBeGreaterThan(0);
    expect(finished).toBeGreaterThan(0);
  });

  it('never recreates a queue entry that was published, then built and popped before recovery', async () => {
    const total = await operationCount();
    let sawPartlyPublished = false;
    for (let crashAt = 1; crashAt <= total; crashAt++) {
      const { layout, config } = await freshRoot();
      expect(await acceptCrashingAt(layout, config, crashAt)).toBe(true);
      const context = `crash at operation ${crashAt}/${total}:\n  ${faults.log.join('\n  ')}`;
      const published = [];
      for (const queue of QUEUES) if ((await pendingKeys(layout, queue)).includes(KEY)) published.push(queue);
      if (published.length === 0) continue;
      const hidden = [];
      for (const queue of QUEUES) if ((await namesIn(layout.buildQueue(queue))).includes(`.tmp-${KEY}.opk`)) hidden.push(queue);
      if (hidden.length > 0) sawPartlyPublished = true;

      // buildd takes and pops every published entry.
      for (const queue of published) await buildAndPop(layout, queue);
      // builddd must not move the half-accepted entry: the accept's marker still holds a link.
      const markerLeft = (await namesIn(layout.tmp)).some((name) => name.startsWith('.tmp-publish-'));
      if (markerLeft) expect(await builtMasterEntries(layout), context).toEqual([]);

      await recoverAccepts(layout, config);
      await expectFinished(layout, published, context);
    }
    expect(sawPartlyPublished).toBe(true);
  });
});

describe('recoverAccepts on states made by hand', () => {
  /** Steps 1 and 2 by hand: the farm's copy as the accept marker, the .changes in master/, the remarks. */
  async function stepsOneAndTwo(layout: QueueLayout): Promise<string> {
    const marker = join(layout.tmp, `.tmp-accept-${KEY}.opk`);
    await copyFile(join(layout.incoming, UPLOAD_FILES[1] as string), marker);
    await writeFile(join(layout.tmp, `.tmp-accept-${KEY}.remarks`), REMARKS);
    await copyFile(join(layout.incoming, UPLOAD_FILES[0] as string), layout.masterChanges(KEY));
    return marker;
  }

  it('before step 3 the accept is undone: the upload stays in incoming/, master/ stays empty', async () => {
    const { layout, config } = await freshRoot();
    await stepsOneAndTwo(layout);
    expect(await recoverAccepts(layout, config)).toEqual([]);
    await expectUndone(layout, 'after step 2');
  });

  it('after step 3 the accept is finished, with the remarks for the mail', async () => {
    const { layout, config } = await freshRoot();
    const marker = await stepsOneAndTwo(layout);
    // Step 3, interrupted after the master link and one queue's hidden link.
    await link(marker, layout.masterEntry(KEY));
    await link(marker, join(layout.buildQueue('indep'), `.tmp-${KEY}.opk`));
    expect(await recoverAccepts(layout, config)).toEqual([{ key: KEY, remarks: REMARKS }]);
    await expectFinished(layout, [], 'during step 3');
  });

  it('finishing an accept neither blocks on a FIFO nor follows a link planted in incoming/', async () => {
    const { layout, config } = await freshRoot();
    const marker = await stepsOneAndTwo(layout);
    await link(marker, layout.masterEntry(KEY));
    // Recovery looks for the upload's .changes among every *.changes in incoming/: these must not be opened.
    await promisify(execFile)('mkfifo', [join(layout.incoming, 'planted.changes')]);
    await symlink(layout.masterChanges(KEY), join(layout.incoming, 'linked.changes'));
    expect(await recoverAccepts(layout, config)).toEqual([{ key: KEY, remarks: REMARKS }]);
    expect(await namesIn(layout.incoming)).toEqual(['linked.changes', 'planted.changes']);
    expect(await namesIn(layout.master)).toEqual([`${KEY}.changes`, `${KEY}.opk`]);
  }, 10_000);

  it('a queue entry published in step 5 and popped by buildd before the crash is not recreated', async () => {
    const { layout, config } = await freshRoot();
    const marker = await stepsOneAndTwo(layout);
    // Step 3 and 4 complete.
    await link(marker, layout.masterEntry(KEY));
    for (const queue of QUEUES) await link(marker, join(layout.buildQueue(queue), `.tmp-${KEY}.opk`));
    const publishMarker = join(layout.tmp, `.tmp-publish-${KEY}.opk`);
    await rename(marker, publishMarker);
    // Step 5 for indep only, then the crash; buildd builds and pops indep's entry.
    await rename(join(layout.buildQueue('indep'), `.tmp-${KEY}.opk`), layout.buildQueueEntry('indep', KEY));
    await buildAndPop(layout, 'indep');
    expect(await linkCount(layout.masterEntry(KEY))).toBe(3); // master, native's hidden link, the marker
    expect(await builtMasterEntries(layout)).toEqual([]);

    expect(await recoverAccepts(layout, config)).toEqual([{ key: KEY, remarks: REMARKS }]);
    await expectFinished(layout, ['indep'], 'indep popped during step 5');
    expect(await pendingKeys(layout, 'indep')).toEqual([]);
    expect(await pendingKeys(layout, 'native')).toEqual([KEY]);
  });
});
