/** Why an upload cannot be accepted or a queue operation cannot proceed, naming the upload file. */

export type UploadErrorCode =
  | 'upload.incomplete'
  | 'upload.invalid'
  | 'upload.distribution'
  | 'upload.unroutable'
  | 'upload.changed'
  | 'upload.not-found'
  | 'upload.ambiguous';

export class UploadError extends Error {
  override readonly name = 'UploadError';

  constructor(
    readonly code: UploadErrorCode,
    /** The upload's .changes (or other file) as the user knows it. */
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}
