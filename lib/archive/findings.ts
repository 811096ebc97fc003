/**
 * What the archive's audit and recovery commands find wrong (or worth
 * knowing) about one file: reported one per line, `<file>: <problem>`, the
 * file archive-relative as the indexes and paths.ts name it.
 */

export interface Finding {
  /** Archive-relative path, e.g. `pool/h/hello/hello_1.0-1_all_all.opk`. */
  readonly file: string;
  /** One line, without the file. */
  readonly problem: string;
}

/** The one-line form: `<file>: <problem>`. */
export function formatFinding(finding: Finding): string {
  return `${finding.file}: ${finding.problem.replace(/\s*\n\s*/g, ' ')}`;
}
