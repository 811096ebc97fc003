/** Why an upload cannot be accepted or a queue operation cannot proceed, naming the upload file. */

export type UploadErrorCode =
  | 'upload.incomplete'
  | 'upload.invalid'
  | 'upload.distribution'
  /** accept: its version is in the pool from an upload to another distribution. */
  | 'upload.other-distribution'
  | 'upload.unroutable'
  | 'upload.changed'
  | 'upload.not-found'
  | 'upload.ambiguous'
  /** buildq retry: no stored failed build, or what a retry needs is gone. */
  | 'upload.nothing-to-retry'
  /** buildq cancel: the upload is not in the build queues (any more). */
  | 'upload.not-queued'
  /** buildq cancel: a buildd is building it now. */
  | 'upload.being-built';

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
