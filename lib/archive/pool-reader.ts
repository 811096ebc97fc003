/**
 * Reads the pool's source directories into records (pool-stanzas.ts), on
 * worker threads when there are cores to spare: reading a small package is
 * CPU work (inflating, digesting, parsing: about 0.1 ms each), and reindex
 * reads tens of thousands. Directories go to the workers in batches of about
 * BATCH files, two batches in flight per worker so none waits for this
 * thread; records come back in no set order.
 *
 * The workers run the compiled module (pool-reader-worker.js beside this
 * one); run from the TypeScript sources (the tests), there is none, and the
 * files are read in this thread, which then lets the event loop turn now and
 * then (the archive lock's refresh runs there).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EnvironmentError } from '../errors.js';
import type { PoolDirectory } from './pool-listing.js';
import { poolDirectoryRecords, type PoolRecord } from './pool-stanzas.js';

/** A batch of directories for a worker, and what it sends back. */
export interface WorkerBatch {
  readonly archive: string;
  readonly directories: readonly PoolDirectory[];
}
export type WorkerReply = { readonly records: PoolRecord[] } | { readonly error: string };

export interface ReadPoolOptions {
  /** Worker threads; 0 reads in this thread. Default: defaultThreads(), or 0 for fewer than THREADS_FROM files. */
  readonly threads?: number;
  /** Stops the reading between batches. */
  readonly signal?: AbortSignal;
}

const WORKER = new URL('./pool-reader-worker.js', import.meta.url);
const BATCH = 128;
const MAX_THREADS = 4;
/**
 * A worker's heap: small, since a batch holds little, and V8 otherwise lets
 * each thread's heap grow with garbage (peak RSS counts every thread).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 };
/** Starting threads costs about 0.1 s each: worth it from this many files (a few tenths of a second of reading). */
export const THREADS_FROM = 5000;
/** Files read in this thread between two turns of the event loop, about. */
const FILES_PER_TURN = 64;

/** One worker per core up to MAX_THREADS, none on one core or without the compiled worker. */
export function defaultThreads(): number {
  const cores = availableParallelism();
  return cores < 2 || !existsSync(fileURLToPath(WORKER)) ? 0 : Math.min(cores, MAX_THREADS);
}

/** Reads every directory of `directories` (in the archive directory `archive`), giving each record to `onRecord`. */
export async function readPoolDirectories(
  archive: string,
  directories: readonly PoolDirectory[],
  onRecord: (record: PoolRecord) => void,
  options: ReadPoolOptions = {},
): Promise<void> {
  const files = directories.reduce((sum, directory) => sum + directory.names.length, 0);
  const threads = options.threads ?? (files >= THREADS_FROM ? defaultThreads() : 0);
  if (threads === 0 || directories.length === 0) return readInThisThread(archive, directories, onRecord, options.signal);
  const batches: WorkerBatch[] = [];
  let batch: PoolDirectory[] = [];
  let inBatch = 0;
  for (const directory of directories) {
    batch.push(directory);
    inBatch += directory.names.length;
    if (inBatch >= BATCH) {
      batches.push({ archive, directories: batch });
      batch = [];
      inBatch = 0;
    }
  }
  if (batch.length > 0) batches.push({ archive, directories: batch });
  const workers = Array.from({ length: Math.min(threads, batches.length) }, () => new Worker(WORKER, { resourceLimits: WORKER_LIMITS }));
  try {
    await Promise.all(workers.map((worker) => feed(worker, batches, onRecord, options.signal)));
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

async function readInThisThread(
  archive: string,
  directories: readonly PoolDirectory[],
  onRecord: (record: PoolRecord) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  let sinceTurn = 0;
  for (const directory of directories) {
    for (const record of await poolDirectoryRecords(archive, directory)) onRecord(record);
    sinceTurn += directory.names.length;
    if (sinceTurn >= FILES_PER_TURN) {
      sinceTurn = 0;
      await nextTurn();
      signal?.throwIfAborted();
    }
  }
}

/** Keeps one worker busy with batches taken from the shared list until it is empty. */
function feed(worker: Worker, batches: WorkerBatch[], onRecord: (record: PoolRecord) => void, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    const fail = (error: unknown) => {
      worker.removeAllListeners();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const next = () => {
      if (signal?.aborted) return fail(signal.reason);
      const batch = batches.shift();
      if (batch === undefined) {
        if (inFlight === 0) {
          worker.removeAllListeners();
          resolve();
        }
        return;
      }
      inFlight += 1;
      worker.postMessage(batch);
    };
    worker.on('message', (reply: WorkerReply) => {
      inFlight -= 1;
      if ('error' in reply) return fail(new EnvironmentError(reply.error));
      for (const record of reply.records) onRecord(record);
      next();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a pool reader thread exited (code ${code}) with work left`)));
    next();
    next();
  });
}
