/**
 * Why an archive-queue entry cannot be included, naming the entry or file.
 * Problems with one package are not errors: the inclusion refuses that
 * package and goes on (see include.ts). These errors stop the whole
 * inclusion, which leaves the entry in place for a later run.
 */

export type InclusionErrorCode =
  /** The key is not `<sequence>_<source>_<version>`. */
  | 'archive.bad-key'
  /** The entry has no source package (`<key>.opk`): it is not complete, or was already included. */
  | 'archive.incomplete'
  /** The entry's .changes is missing, invalid or about another upload. */
  | 'archive.bad-entry';

export class InclusionError extends Error {
  override readonly name = 'InclusionError';

  constructor(
    readonly code: InclusionErrorCode,
    /** The entry or file the problem is in. */
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export type ArchiveCommandErrorCode =
  /** A suite name that is not `dev/<name>` or `rel/<name>`. */
  | 'archive.bad-suite'
  /** A suite that does not exist. */
  | 'archive.no-suite'
  /** A release whose destination exists already. */
  | 'archive.suite-exists'
  /** A package name or version that cannot be one (keep marks). */
  | 'archive.bad-package';

/** Why an archive command (release, diff, keep, gc) refused to act, naming what it refused. */
export class ArchiveCommandError extends Error {
  override readonly name = 'ArchiveCommandError';

  constructor(
    readonly code: ArchiveCommandErrorCode,
    /** The suite, package or file the problem is about. */
    readonly subject: string,
    readonly detail: string,
  ) {
    super(`${subject}: ${detail}`);
  }
}
