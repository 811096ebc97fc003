/**
 * Names in incoming/. A complete uploaded file has the plain name its .changes
 * lists (uploadFileNameProblem); while it is being sent it has the name
 * `.tmp-upload-<name>`, so that no reader takes a partial file for a complete
 * one (I1) and an interrupted upload finds its partial file again to resume.
 * The uploader renames it when it is complete, the .changes last of all.
 */
import { TEMP_PREFIX } from '../fs/atomic.js';
import { uploadFileNameProblem } from './changes.js';

/** Prefix of a file in transit; a `.tmp-` name, which no opkfarm reader takes for a finished file. */
export const UPLOAD_TEMP_PREFIX = `${TEMP_PREFIX}upload-`;

/** The name `name` has while it is being sent. */
export function uploadTempName(name: string): string {
  return `${UPLOAD_TEMP_PREFIX}${name}`;
}

/** The final name of a file in transit, or undefined when `name` is not a temporary upload name. */
export function finalNameOfUploadTemp(name: string): string | undefined {
  if (!name.startsWith(UPLOAD_TEMP_PREFIX)) return undefined;
  const final = name.slice(UPLOAD_TEMP_PREFIX.length);
  return uploadFileNameProblem(final) === undefined ? final : undefined;
}
