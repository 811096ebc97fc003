/** Why `opkfarm upload` did not send an upload, naming the file or the destination. */

export type SendErrorCode =
  /** The upload is not ready here: a listed file is missing or wrong, or the source package is unusable. */
  | 'send.not-ready'
  /** The .changes names a distribution the farm does not take. */
  | 'send.distribution'
  /** The .upload log says this upload already went to this destination. */
  | 'send.already-uploaded'
  /** sftp or the local copy failed; running the same command again resumes. */
  | 'send.transport';

export class SendError extends Error {
  override readonly name = 'SendError';

  constructor(
    readonly code: SendErrorCode,
    /** The .changes, or the destination, as the user knows it. */
    readonly file: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${detail}`, options);
  }
}
