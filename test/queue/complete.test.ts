/**
 * builddd's view of master/ (lib/queue/complete.ts): an entry is built when
 * no build queue or claim links it any more; a daemon told which names
 * changed looks at those entries only.
 */
import { link, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueLayout } from '../../lib/layout.js';
import { builtMasterEntries, keyOfQueueName, moveToArchiveQueue } from '../../lib/queue/complete.js';
import { initFarmInProcess, namesIn, removeScratch, scratchDirectory } from '../support/farm.js';

let scratch: string | undefined;
let layout: QueueLayout;

const BUILT = '0000000001_hello_1.0-1';
const QUEUED = '0000000002_world_2.0';
const CLAIMED = '0000000003_motd_0.1';

beforeEach(async () => {
  scratch = await scratchDirectory('complete');
  ({ layout } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: 'indep', architectures: ['all'] }] }));
  for (const key of [BUILT, QUEUED, CLAIMED]) {
    await writeFile(layout.masterEntry(key), `source package ${key}\n`);
    await writeFile(layout.masterChanges(key), `changes of ${key}\n`);
  }
  await link(layout.masterEntry(QUEUED), layout.buildQueueEntry('indep', QUEUED));
  await link(layout.masterEntry(CLAIMED), join(layout.claims('indep'), `${CLAIMED}.opk@host@1`));
});

afterEach(async () => {
  await removeScratch(scratch);
  scratch = undefined;
});

describe('builtMasterEntries', () => {
  it('lists the entries no build queue or claim holds, in acceptance order', async () => {
    expect(await builtMasterEntries(layout)).toEqual([BUILT]);
    await unlink(join(layout.claims('indep'), `${CLAIMED}.opk@host@1`));
    expect(await builtMasterEntries(layout)).toEqual([BUILT, CLAIMED]);
  });

  it('looks only at the keys it is given, skipping gone, held and malformed ones', async () => {
    await unlink(join(layout.claims('indep'), `${CLAIMED}.opk@host@1`));
    expect(await builtMasterEntries(layout, [CLAIMED, QUEUED, '0000000009_gone_1', '../etc', CLAIMED])).toEqual([CLAIMED]);
    expect(await builtMasterEntries(layout, [])).toEqual([]);
  });
});

describe('keyOfQueueName', () => {
  it('finds the key in master and claim names', () => {
    expect(keyOfQueueName(`${BUILT}.opk`)).toBe(BUILT);
    expect(keyOfQueueName(`${BUILT}.changes`)).toBe(BUILT);
    expect(keyOfQueueName(`${BUILT}.opk@build1.example.org@4242`)).toBe(BUILT);
  });

  it('refuses names that are not an upload entry', () => {
    for (const name of ['claims', `${BUILT}.log`, '.tmp-accept-0000000001', 'hello_1.0.opk', `${BUILT}.opk.bak`]) {
      expect(keyOfQueueName(name), name).toBeUndefined();
    }
  });
});

describe('moveToArchiveQueue', () => {
  it('moves the .changes and then the source package into archive-queue/<key>/', async () => {
    await moveToArchiveQueue(layout, BUILT);
    expect(await namesIn(layout.archiveQueueEntry(BUILT))).toEqual([`${BUILT}.changes`, `${BUILT}.opk`]);
    expect(await builtMasterEntries(layout)).toEqual([]);
  });
});
