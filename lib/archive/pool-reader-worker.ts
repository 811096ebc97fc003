/**
 * A pool reader thread (pool-reader.ts): reads each batch of pool
 * directories it is sent into records and sends them back. A failure of the environment
 * (EACCES, a missing decompressor) is sent back as an error message: the
 * whole read stops, since an index must not lose a package to it.
 */
import { parentPort } from 'node:worker_threads';
import { describeError } from '../errors.js';
import type { WorkerBatch, WorkerReply } from './pool-reader.js';
import { poolDirectoryRecords, type PoolRecord } from './pool-stanzas.js';

const port = parentPort;
if (port === null) throw new Error('pool-reader-worker.js runs as a worker thread only');

port.on('message', (batch: WorkerBatch) => {
  void read(batch).then((reply) => port.postMessage(reply));
});

async function read(batch: WorkerBatch): Promise<WorkerReply> {
  try {
    const records: PoolRecord[] = [];
    for (const directory of batch.directories) records.push(...(await poolDirectoryRecords(batch.archive, directory)));
    return { records };
  } catch (error) {
    return { error: describeError(error) };
  }
}
