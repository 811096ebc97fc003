/** Source and binary package names (FORMATS.md: `[a-z0-9][a-z0-9+.-]+`, `src-` reserved). */

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/**
 * Longest package name. Names go into file names with a version, an
 * architecture and temporary prefixes (`.tmp-accept-<sequence>_<source>_<version>.changes`),
 * which must stay within NAME_MAX (255 bytes).
 */
export const MAX_PACKAGE_NAME_LENGTH = 100;

/** Why a binary or source package name is not valid, or undefined when it is. */
export function packageNameProblem(name: string): string | undefined {
  if (!PACKAGE_NAME.test(name)) {
    return `package name ${JSON.stringify(name)} must match [a-z0-9][a-z0-9+.-]+`;
  }
  if (name.length > MAX_PACKAGE_NAME_LENGTH) {
    return `package name ${JSON.stringify(`${name.slice(0, 40)}…`)} is longer than ${MAX_PACKAGE_NAME_LENGTH} characters`;
  }
  return undefined;
}

/** Why a source package name is not valid: a package name that does not use the reserved `src-` prefix. */
export function sourceNameProblem(name: string): string | undefined {
  return (
    packageNameProblem(name) ??
    (name.startsWith('src-') ? `source name ${JSON.stringify(name)} uses the reserved prefix "src-"` : undefined)
  );
}

/** The binary package name of a source package's own opk. */
export function sourcePackageName(source: string): string {
  return `src-${source}`;
}

const DISTRIBUTION_NAME = /^[a-z0-9][a-z0-9.+-]*$/;

/** Why a distribution (or release) name is not valid, or undefined when it is. */
export function distributionProblem(name: string): string | undefined {
  if (!DISTRIBUTION_NAME.test(name)) return `distribution ${JSON.stringify(name)} must match [a-z0-9][a-z0-9.+-]*`;
  return undefined;
}
