/**
 * `opkfarm upload`: sends a checked upload (checkLocalUpload) through a
 * transport, the listed files first and the .changes last, each under its
 * temporary name and renamed when complete, so that the farm sees the upload
 * only once it is whole (queues-layout/README.md, "Uploads"). What the .upload
 * log and the destination say decides what is skipped or resumed
 * (planUpload); an upload the log records as complete there is refused
 * unless forced.
 *
 * If interrupted, the log holds a `sending` line for the file in transit,
 * so the next run resumes it; nothing on the other side ever holds a partial
 * file under a final name.
 */
import { basename } from 'node:path';
import { SendError } from './errors.js';
import type { LocalUpload, UploadFile } from './local-check.js';
import { planUpload } from './plan.js';
import type { UploadTransport } from './transport.js';
import { appendUploadLog, readUploadLog, uploadLogPath } from './upload-log.js';

/** What happened to one file. */
export interface SentFile {
  readonly name: string;
  readonly outcome: 'skipped' | 'sent' | 'resumed' | 'renamed';
  /** Bytes sent for it in this run. */
  readonly bytes: number;
}

export interface SendOptions {
  /** Send even what the log records as uploaded there, and every file whole. */
  readonly force: boolean;
  /** Told of each file once it is done (a progress line). */
  readonly onFile?: (file: SentFile) => void;
  /** Told when a stale .changes of another upload is removed first. */
  readonly onStaleRemoved?: (name: string) => void;
}

/** Sends `upload` through `transport`; returns what happened to each file, the .changes last. */
export async function sendUpload(upload: LocalUpload, transport: UploadTransport, options: SendOptions): Promise<SentFile[]> {
  const changesName = basename(upload.changesPath);
  const logPath = uploadLogPath(upload.changesPath);
  const log = await readUploadLog(logPath);
  const { destination } = transport;
  const done = log.filter((entry) => entry.event === 'uploaded' && entry.destination === destination && entry.name === changesName).at(-1);
  if (done !== undefined && !options.force) {
    const changes = upload.files.at(-1);
    const changed = changes !== undefined && changes.sha256 !== done.sha256 ? '; the .changes has changed since' : '';
    throw new SendError(
      'send.already-uploaded',
      changesName,
      `already uploaded to ${destination} at ${done.time} (see ${logPath}${changed}); --force uploads it again`,
    );
  }

  const plan = planUpload(upload.files, await transport.listSizes(), log, { destination, force: options.force });
  if (plan.staleChanges !== undefined) {
    await transport.remove(plan.staleChanges);
    options.onStaleRemoved?.(plan.staleChanges);
  }
  const sent: SentFile[] = [];
  for (const action of plan.actions) {
    const { file } = action;
    if (action.kind === 'skip') {
      report({ name: file.name, outcome: 'skipped', bytes: 0 });
      continue;
    }
    await appendUploadLog(logPath, 'sending', destination, file);
    await transport.send(file, action.offset);
    await appendUploadLog(logPath, 'sent', destination, file);
    const outcome = action.offset === 0 ? 'sent' : action.offset === file.size ? 'renamed' : 'resumed';
    report({ name: file.name, outcome, bytes: file.size - action.offset });
  }
  await appendUploadLog(logPath, 'uploaded', destination, upload.files.at(-1) as UploadFile);
  return sent;

  function report(file: SentFile): void {
    sent.push(file);
    options.onFile?.(file);
  }
}
