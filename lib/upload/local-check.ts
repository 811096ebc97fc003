/**
 * What `opkfarm upload` checks before sending anything: the upload is
 * complete beside its .changes (checkUpload, the farm's own check: every
 * listed file present as a plain file with the listed size and hashes), its
 * source package passes accept's checks, and its distribution is one the
 * farm takes, when the farm's list is known. Sending an upload the farm will
 * refuse only wastes the uploader's time and the reviewer's.
 */
import { basename, dirname, join } from 'node:path';
import { checkUpload } from '../formats/changes-upload.js';
import type { Changes } from '../formats/changes.js';
import { digestFile } from '../fs/hash.js';
import { sourcePackageProblems } from '../queue/source-check.js';
import { SendError } from './errors.js';

/** One file to send. */
export interface UploadFile {
  /** Its name here and in incoming/. */
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** An upload ready to send: the listed files, then the .changes, in sending order. */
export interface LocalUpload {
  readonly changesPath: string;
  readonly changes: Changes;
  readonly files: readonly UploadFile[];
}

/** Checks the upload `changesPath` describes; `distributions` is the farm's list, when known. */
export async function checkLocalUpload(changesPath: string, distributions?: readonly string[]): Promise<LocalUpload> {
  const name = basename(changesPath);
  const check = await checkUpload(changesPath);
  if (check.state === 'incomplete') {
    throw new SendError('send.not-ready', name, `not ready to upload: ${check.waitingFor.join(', ')} missing or shorter than listed`);
  }
  if (check.state === 'invalid') throw new SendError('send.not-ready', name, `not ready to upload: ${check.reasons.join('; ')}`);
  const { changes } = check;
  if (distributions !== undefined && !distributions.includes(changes.distribution)) {
    throw new SendError(
      'send.distribution',
      name,
      `distribution "${changes.distribution}" is not one the farm accepts (${distributions.join(', ')})`,
    );
  }
  const directory = dirname(changesPath);
  for (const file of changes.files) {
    const problems = await sourcePackageProblems(join(directory, file.name), file.name, changes);
    if (problems.length > 0) throw new SendError('send.not-ready', name, `not ready to upload: ${problems.join('; ')}`);
  }
  const listed = changes.files.map((file) => ({ name: file.name, path: join(directory, file.name), size: file.size, sha256: file.sha256 }));
  const digests = await digestFile(changesPath);
  return { changesPath, changes, files: [...listed, { name, path: changesPath, size: digests.size, sha256: digests.sha256 }] };
}
