/**
 * Acceptance numbers: the FIFO key of the queues (I6). A number is handed out
 * under a lock on `state/sequence` and written back before it is used, so a
 * crash can skip a number but never hand one out twice.
 */
import { readFile } from 'node:fs/promises';
import { takeOwnedLock } from '../fs/owned-lock.js';
import { writeContentAtomic } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { faultPoint } from '../fault.js';

/** Locks older than this are taken over: no holder keeps the sequence lock for more than milliseconds. */
const STALE_LOCK_MS = 10_000;
/** Longer than the stale time: a holder killed on another host is waited out. */
const WAIT_MS = 30_000;

/** The next acceptance number. */
export async function nextSequence(layout: QueueLayout): Promise<number> {
  const file = layout.sequenceFile;
  const release = await takeOwnedLock(layout.state, { lockPath: `${file}.lock`, staleMs: STALE_LOCK_MS, waitMs: WAIT_MS });
  try {
    const last = await readLast(file);
    const next = last + 1;
    await writeContentAtomic(file, `${next}\n`);
    faultPoint('accept.sequence-written');
    return next;
  } finally {
    await release();
  }
}

async function readLast(file: string): Promise<number> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!/^\d+$/.test(text)) throw new Error(`${file}: not a number: ${JSON.stringify(text)}`);
    return Number(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}
