/**
 * Package versions, `[<epoch>:]<upstream>[-<revision>]`, parsed and compared
 * exactly as dpkg and opkg do (dpkg's verrevcmp: non-digit runs compare by a
 * character order where `~` sorts before everything, even the end of the
 * string, and letters before other symbols; digit runs compare numerically).
 */

export interface Version {
  readonly epoch: number;
  readonly upstream: string;
  /** Empty when the version has no revision; dpkg treats that as equal to "0". */
  readonly revision: string;
}

/** Longest version: it goes into file names with the package name (names.ts, MAX_PACKAGE_NAME_LENGTH). */
export const MAX_VERSION_LENGTH = 64;

/** Why a version string is not valid, or undefined when it is. */
export function versionProblem(text: string): string | undefined {
  if (text === '') return 'version is empty';
  if (text.length > MAX_VERSION_LENGTH) return `version is longer than ${MAX_VERSION_LENGTH} characters`;
  if (/\s/.test(text)) return 'version has embedded spaces';
  const colon = text.indexOf(':');
  if (colon >= 0) {
    const epoch = text.slice(0, colon);
    if (epoch === '') return 'epoch in version is empty';
    if (!/^\d+$/.test(epoch)) return 'epoch in version is not a number';
    if (Number(epoch) > 2 ** 31 - 1) return 'epoch in version is too big';
  }
  const rest = text.slice(colon + 1);
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (upstream === '') return 'upstream version is empty';
  if (hyphen >= 0 && revision === '') return 'revision in version is empty';
  if (!/^\d/.test(upstream)) return 'upstream version does not start with a digit';
  if (!/^[A-Za-z0-9.+~:-]+$/.test(upstream)) return 'invalid character in upstream version';
  if (!/^[A-Za-z0-9.+~]*$/.test(revision)) return 'invalid character in revision';
  return undefined;
}

/** Parses a version; throws a RangeError naming the problem when it is invalid. */
export function parseVersion(text: string): Version {
  const problem = versionProblem(text);
  if (problem !== undefined) throw new RangeError(`${problem}: ${JSON.stringify(text)}`);
  const colon = text.indexOf(':');
  const rest = text.slice(colon + 1);
  const hyphen = rest.lastIndexOf('-');
  return {
    epoch: colon >= 0 ? Number(text.slice(0, colon)) : 0,
    upstream: hyphen >= 0 ? rest.slice(0, hyphen) : rest,
    revision: hyphen >= 0 ? rest.slice(hyphen + 1) : '',
  };
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b`. */
export function compareVersions(a: string | Version, b: string | Version): number {
  const left = typeof a === 'string' ? parseVersion(a) : a;
  const right = typeof b === 'string' ? parseVersion(b) : b;
  if (left.epoch !== right.epoch) return left.epoch < right.epoch ? -1 : 1;
  return sign(compareFragment(left.upstream, right.upstream)) || sign(compareFragment(left.revision, right.revision));
}

/** The version as written in file names: without its epoch (FORMATS.md). */
export function versionForFileName(text: string): string {
  const colon = text.indexOf(':');
  return colon >= 0 ? text.slice(colon + 1) : text;
}

/** dpkg's verrevcmp over one upstream version or revision. */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a, i)) || (j < b.length && !isDigit(b, j))) {
      const difference = order(a, i) - order(b, j);
      if (difference !== 0) return difference;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDifference = 0;
    while (isDigit(a, i) && isDigit(b, j)) {
      if (firstDifference === 0) firstDifference = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a, i)) return 1;
    if (isDigit(b, j)) return -1;
    if (firstDifference !== 0) return firstDifference;
  }
  return 0;
}

/** dpkg's character order: end of string and digits 0, `~` -1, letters by code, other symbols after letters. */
function order(text: string, index: number): number {
  if (index >= text.length) return 0;
  const code = text.charCodeAt(index);
  if (isDigit(text, index)) return 0;
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return code;
  if (code === 126) return -1;
  return code + 256;
}

function isDigit(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code >= 48 && code <= 57;
}

function sign(value: number): number {
  return value < 0 ? -1 : value > 0 ? 1 : 0;
}
