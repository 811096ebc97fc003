/**
 * OldestEntries (lib/queue/oldest.ts): buildd's kept listing of its queue
 * takes entries oldest first, and a returned claim, older than the listing's
 * front, is taken next once the daemon tells of it (I6).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadKey, type QueueLayout } from '../../lib/layout.js';
import { claimEntry, returnClaim } from '../../lib/queue/claims.js';
import { OldestEntries } from '../../lib/queue/oldest.js';
import { initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';

const QUEUE = 'indep';
const self = { host: 'here', pid: process.pid };
const other = { host: 'elsewhere', pid: 4242 };

let scratch: string | undefined;
let layout: QueueLayout;

beforeEach(async () => {
  scratch = await scratchDirectory('oldest');
  ({ layout } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: QUEUE, architectures: ['all'] }] }));
});

afterEach(async () => {
  await removeScratch(scratch);
  scratch = undefined;
});

const key = (sequence: number) => uploadKey(sequence, 'pkg', '1.0');

async function enqueue(...sequences: number[]): Promise<void> {
  for (const sequence of sequences) await writeFile(layout.buildQueueEntry(QUEUE, key(sequence)), '');
}

async function takeAll(oldest: OldestEntries): Promise<string[]> {
  const taken: string[] = [];
  for (let claim = await oldest.claimOldest(self); claim; claim = await oldest.claimOldest(self)) taken.push(claim.key);
  return taken;
}

describe('OldestEntries', () => {
  it('takes entries oldest first, newer arrivals after the listing', async () => {
    await enqueue(3, 1, 2);
    const oldest = new OldestEntries(layout, QUEUE);
    expect((await oldest.claimOldest(self))?.key).toBe(key(1));
    await enqueue(4);
    expect(await takeAll(oldest)).toEqual([key(2), key(3), key(4)]);
    expect(oldest.exhausted).toBe(true);
  });

  it('skips an entry another process claimed first', async () => {
    await enqueue(1, 2, 3);
    const oldest = new OldestEntries(layout, QUEUE);
    expect((await oldest.claimOldest(self))?.key).toBe(key(1));
    await claimEntry(layout, QUEUE, key(2), other);
    expect(await takeAll(oldest)).toEqual([key(3)]);
  });

  it('takes a returned claim next once an event names it, and ignores events of departures', async () => {
    await enqueue(1, 2, 3, 4);
    const returned = await claimEntry(layout, QUEUE, key(1), other);
    const oldest = new OldestEntries(layout, QUEUE);
    expect((await oldest.claimOldest(self))?.key).toBe(key(2));

    // Its own claim of 2 left the directory: an event names it, but nothing older is back.
    oldest.noticeChange(`${key(2)}.opk`);
    expect((await oldest.claimOldest(self))?.key).toBe(key(3));

    if (!returned) throw new Error('claim failed');
    await returnClaim(layout, returned);
    oldest.noticeChange(`${key(1)}.opk`);
    expect(await takeAll(oldest)).toEqual([key(1), key(4)]);
  });

  it('without being told, keeps to its listing until it runs out; forget drops it at once', async () => {
    await enqueue(1, 2, 3);
    const returned = await claimEntry(layout, QUEUE, key(1), other);
    const oldest = new OldestEntries(layout, QUEUE);
    expect((await oldest.claimOldest(self))?.key).toBe(key(2));
    if (!returned) throw new Error('claim failed');
    await returnClaim(layout, returned);
    expect((await oldest.claimOldest(self))?.key).toBe(key(3));
    expect((await oldest.claimOldest(self))?.key).toBe(key(1));

    await enqueue(10, 11, 12);
    expect((await oldest.claimOldest(self))?.key).toBe(key(10));
    await enqueue(9);
    expect((await oldest.claimOldest(self))?.key).toBe(key(11));
    await enqueue(8);
    oldest.forget();
    expect(await takeAll(oldest)).toEqual([key(8), key(9), key(12)]);
  });
});
