/**
 * The incoming queue as a reviewer sees it: every .changes in incoming/ with
 * the state of its upload. Reading only: nothing here moves, follows or
 * links an uploaded file.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkUpload, type UploadCheck } from '../formats/changes-upload.js';
import { versionForFileName } from '../formats/version.js';
import type { QueueLayout } from '../layout.js';
import { UploadError } from './errors.js';

export interface IncomingUpload {
  readonly changesPath: string;
  readonly check: UploadCheck;
  /** Source and version as the .changes claims them (untrusted when the check is invalid). */
  readonly source?: string;
  readonly version?: string;
}

/** Every upload in incoming/, by .changes file name. */
export async function listIncoming(layout: QueueLayout): Promise<IncomingUpload[]> {
  const names = (await readdir(layout.incoming)).filter((name) => name.endsWith('.changes')).sort();
  const uploads: IncomingUpload[] = [];
  for (const name of names) {
    const changesPath = join(layout.incoming, name);
    const check = await checkUpload(changesPath);
    const stanza = check.state === 'invalid' ? check.stanza : check.changes.stanza;
    uploads.push({ changesPath, check, source: stanza?.get('Source'), version: stanza?.get('Version') });
  }
  return uploads;
}

/** The one upload in incoming/ for `source` and `version` (with or without epoch). */
export async function findIncoming(layout: QueueLayout, source: string, version: string): Promise<IncomingUpload> {
  const wanted = versionForFileName(version);
  const matches = (await listIncoming(layout)).filter(
    (upload) =>
      upload.source === source && upload.version !== undefined && (upload.version === version || versionForFileName(upload.version) === wanted),
  );
  if (matches.length === 0) throw new UploadError('upload.not-found', `${source} ${version}`, 'no such upload in incoming/');
  if (matches.length > 1) {
    throw new UploadError(
      'upload.ambiguous',
      `${source} ${version}`,
      `several uploads match: ${matches.map((upload) => upload.changesPath).join(', ')}`,
    );
  }
  return matches[0] as IncomingUpload;
}
