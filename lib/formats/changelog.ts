/**
 * Source package change logs (SPF 2.0, Debian style). Only the first entry
 * matters to the farm: it names the source, its version and the distribution
 * it is uploaded to, and its trailer says who changed it and when.
 *
 *   hello (1.0-1) trunk; urgency=low
 *
 *     * Initial release.
 *
 *    -- Jane Doe <jane@example.org>  Sat, 21 Nov 2026 12:00:00 +0000
 */
import { FormatError } from '../errors.js';
import { sourceNameProblem } from './names.js';
import { versionProblem } from './version.js';

export interface ChangelogEntry {
  readonly source: string;
  readonly version: string;
  readonly distribution: string;
  /** The entry as Debian copies it into a .changes Changes field: header, body, no trailer. */
  readonly lines: readonly string[];
  /** `Name <address>` of the person who made the change. */
  readonly changedBy: string;
  /** The trailer's date as written (RFC 5322). */
  readonly date: string;
  /** The trailer's date in seconds since the epoch; the default SOURCE_DATE_EPOCH of a build. */
  readonly timestamp: number;
}

const HEADER = /^(\S+) \(([^()\s]+)\) ([^;]+?)\s*(;.*)?$/;
const TRAILER = /^ -- (.+ <[^<>\s]+>) {2}(\S.*)$/;
const DISTRIBUTION = /^[a-z0-9][a-z0-9.+-]*$/;

/** Parses the first entry of a change log. */
export function parseChangelogEntry(text: string, file: string): ChangelogEntry {
  if (text.includes('\0')) throw malformed(file, 'NUL byte in change log');
  const lines = text.split('\n').map((line) => line.replace(/[ \t\r]+$/, ''));
  const headerIndex = lines.findIndex((line) => line !== '');
  if (headerIndex < 0) throw malformed(file, 'change log is empty');
  const headerLine = lines[headerIndex] as string;
  const header = HEADER.exec(headerLine);
  if (!header) {
    throw malformed(file, `first entry header is not "<source> (<version>) <distribution>": ${JSON.stringify(headerLine)}`, headerIndex + 1);
  }
  const [, source = '', version = '', distribution = ''] = header;
  const problem =
    sourceNameProblem(source) ??
    versionProblem(version) ??
    (DISTRIBUTION.test(distribution) ? undefined : `distribution ${JSON.stringify(distribution)} must be one word of [a-z0-9.+-]`);
  if (problem !== undefined) throw malformed(file, problem, headerIndex + 1);

  const trailerIndex = lines.findIndex((line, index) => index > headerIndex && line.startsWith(' --'));
  const nextHeader = lines.findIndex((line, index) => index > headerIndex && HEADER.test(line));
  if (trailerIndex < 0 || (nextHeader >= 0 && nextHeader < trailerIndex)) {
    throw malformed(file, 'first entry has no " -- Name <address>  date" trailer', headerIndex + 1);
  }
  const trailerLine = lines[trailerIndex] as string;
  const trailer = TRAILER.exec(trailerLine);
  if (!trailer) {
    throw malformed(file, `trailer is not " -- Name <address>  date" (two spaces before the date): ${JSON.stringify(trailerLine)}`, trailerIndex + 1);
  }
  const [, changedBy = '', date = ''] = trailer;
  const milliseconds = Date.parse(date);
  if (Number.isNaN(milliseconds)) {
    throw malformed(file, `trailer date is not an RFC 5322 date: ${JSON.stringify(date)}`, trailerIndex + 1);
  }
  const body = lines.slice(headerIndex + 1, trailerIndex);
  if (!body.some((line) => line.trim() !== '')) {
    throw malformed(file, 'first entry lists no changes', headerIndex + 1);
  }
  return {
    source,
    version,
    distribution,
    lines: trimBlankEdges([headerLine, ...body]),
    changedBy,
    date,
    timestamp: Math.floor(milliseconds / 1000),
  };
}

function trimBlankEdges(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0 && lines[end - 1] === '') end--;
  return lines.slice(0, end);
}

function malformed(file: string, detail: string, line?: number): FormatError {
  return new FormatError('changelog.malformed', file, detail, line);
}
