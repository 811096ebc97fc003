/**
 * Acceptance numbers: the FIFO key of the queues (I6). A number is handed out
 * under a lock on `state/sequence` and written back before it is used, so a
 * crash can skip a number but never hand one out twice.
 */
import { readFile } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { writeContentAtomic } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { faultPoint } from '../fault.js';

/** Locks older than this are taken over: no holder keeps the sequence lock for more than milliseconds. */
const STALE_LOCK_MS = 10_000;

/** The next acceptance number. */
export async function nextSequence(layout: QueueLayout): Promise<number> {
  const file = layout.sequenceFile;
  const release = await lockfile.lock(layout.state, {
    lockfilePath: `${file}.lock`,
    stale: STALE_LOCK_MS,
    retries: { retries: 50, minTimeout: 5, maxTimeout: 100 },
  });
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
