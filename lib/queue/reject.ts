/**
 * PIPELINE.md step 1, reject: the upload leaves incoming/ for
 * rejected/<key>/, with the reviewer's remarks in REMARKS. Nothing is
 * deleted. REMARKS is written first and the .changes moves last, so an
 * interrupted reject leaves either the upload in incoming/ (reject again) or
 * a complete rejected entry.
 */
import { mkdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { uploadFileNameProblem } from '../formats/changes.js';
import type { UploadCheck } from '../formats/changes-upload.js';
import { sourceNameProblem } from '../formats/names.js';
import { versionProblem } from '../formats/version.js';
import { ignoreMissing } from '../fs/missing.js';
import { syncDirectory, writeContentAtomic } from '../fs/atomic.js';
import { uploadKey, type QueueLayout } from '../layout.js';
import { nextSequence } from './sequence.js';

export interface RejectedUpload {
  readonly key: string;
  /** Where the upload is kept: rejected/<key>/. */
  readonly directory: string;
}

/** Moves the upload described by `changesPath` to rejected/ with `remarks`. */
export async function rejectUpload(
  layout: QueueLayout,
  changesPath: string,
  check: UploadCheck,
  remarks: string,
): Promise<RejectedUpload> {
  const stanza = check.state === 'invalid' ? check.stanza : check.changes.stanza;
  const source = stanza?.get('Source') ?? '';
  const version = stanza?.get('Version') ?? '';
  // An upload too broken to name itself is kept under its .changes file name.
  const key =
    sourceNameProblem(source) === undefined && versionProblem(version) === undefined
      ? uploadKey(await nextSequence(layout), source, version)
      : `${String(await nextSequence(layout)).padStart(10, '0')}_${basename(changesPath, '.changes').replace(/[^A-Za-z0-9+._~-]/g, '_')}`;
  const directory = layout.rejectedEntry(key);
  await mkdir(directory, { recursive: true });

  const reasons = check.state === 'invalid' ? check.reasons : [];
  const text = [remarks.trimEnd(), ...(reasons.length > 0 ? ['', 'Problems found in the upload:', ...reasons.map((r) => `  ${r}`)] : [])];
  await writeContentAtomic(join(directory, 'REMARKS'), `${text.join('\n')}\n`);

  const incoming = dirname(changesPath);
  const listed = check.state === 'invalid' ? check.listed : check.changes.files.map((file) => file.name);
  for (const name of listed) {
    if (uploadFileNameProblem(name) !== undefined) continue;
    await rename(join(incoming, name), join(directory, name)).catch(ignoreMissing);
  }
  await rename(changesPath, join(directory, basename(changesPath)));
  await syncDirectory(directory);
  await syncDirectory(incoming);
  return { key, directory };
}
