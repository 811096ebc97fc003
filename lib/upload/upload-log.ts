/**
 * The `.upload` log beside a .changes (`hello_1.0-1.upload` for
 * `hello_1.0-1.changes`), as dput keeps one: what was sent where, so that a
 * second run says the upload is done instead of sending it again, and an
 * interrupted run knows which partial files on the other side are its own.
 *
 * One line per event, appended and fsynced:
 *   <ISO 8601 time> <event> <destination> <file> <size> <sha256>
 * `sending` before a file goes, `sent` once it has its final name, and
 * `uploaded` once the .changes has: the upload is complete. A line that does
 * not read (a crash while appending) is ignored.
 */
import { appendFile, open, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { UploadFile } from './local-check.js';

export type UploadEvent = 'sending' | 'sent' | 'uploaded';

export interface UploadLogEntry {
  readonly time: string;
  readonly event: UploadEvent;
  readonly destination: string;
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

const LINE = /^(\S+) (sending|sent|uploaded) (\S+) (\S+) (\d+) ([0-9a-f]{64})$/;

/** The log of the upload described by `changesPath`. */
export function uploadLogPath(changesPath: string): string {
  return join(dirname(changesPath), `${basename(changesPath, '.changes')}.upload`);
}

/** Every readable entry; none when there is no log yet. */
export async function readUploadLog(path: string): Promise<UploadLogEntry[]> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  });
  const entries: UploadLogEntry[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, time = '', event, destination = '', name = '', size = '', sha256 = ''] = match;
    entries.push({ time, event: event as UploadEvent, destination, name, size: Number(size), sha256 });
  }
  return entries;
}

/** Appends one event and makes it durable before the step it announces. */
export async function appendUploadLog(path: string, event: UploadEvent, destination: string, file: UploadFile, now = new Date()): Promise<void> {
  await appendFile(path, `${now.toISOString()} ${event} ${destination} ${file.name} ${file.size} ${file.sha256}\n`);
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
