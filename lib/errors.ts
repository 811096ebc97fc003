/**
 * Errors as typed values. Every error opkfarm reports about input names the
 * file (and line, when there is one) and says what is wrong in one line, so a
 * reviewer or an operator can act on it without reading a stack trace.
 */

/** Machine-readable kinds of input problems; tests and callers switch on these. */
export type FormatErrorCode =
  | 'control.malformed-line'
  | 'control.duplicate-field'
  | 'control.continuation-without-field'
  | 'control.nul-byte'
  | 'control.bad-field-name'
  | 'control.bad-value'
  | 'control.stanza-count'
  | 'control.missing-field'
  | 'control.bad-field'
  | 'changelog.malformed'
  | 'changes.malformed'
  | 'source.malformed'
  | 'opk.truncated'
  | 'opk.bad-magic'
  | 'opk.bad-member'
  | 'opk.missing-member'
  | 'opk.unsafe-entry'
  | 'opk.too-large'
  | 'opk.decompress'
  | 'mail.spool-file';

/** A problem with the content of a file: parse errors, bad fields, unsafe archives. */
export class FormatError extends Error {
  override readonly name = 'FormatError';

  constructor(
    readonly code: FormatErrorCode,
    /** The file the problem is in, as the user named it. */
    readonly file: string,
    /** What is wrong, without the location prefix. */
    readonly detail: string,
    /** 1-based line number, when the problem is on one line. */
    readonly line?: number,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${detail}`);
  }
}

/** A failure of the environment rather than the input: a missing tool, an I/O error. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';

  constructor(
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of any thrown value, for one-line reports. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
