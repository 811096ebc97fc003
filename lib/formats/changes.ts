/**
 * Upload `.changes` files (FORMATS.md): one unsigned RFC-822 stanza naming an
 * upload's source, version, distribution, the architectures and platforms to
 * build, and every uploaded file with its size and hashes.
 *
 * Reading guarantees: a `Changes` value exists only when the whole file is
 * valid, and then every listed file name is a plain basename
 * (`[A-Za-z0-9][A-Za-z0-9+._~-]*`, so no `/` and no leading `.`; `..` is
 * refused anywhere in it) that is safe to join to the upload directory.
 * `inspectChanges` never throws on bad input and reports every problem at
 * once, one line each, naming the file and line, so a reviewer sees all
 * reasons in one rejection; `parseChanges` throws the first as a FormatError.
 *
 * Choices left open by ProteanOS, made here:
 * - Uploads are source-only: Checksums-Sha256 must list exactly the source
 *   package `<source>_<version without epoch>_src.opk` and nothing else. The
 *   farm builds every binary itself, so an uploaded binary could only bypass
 *   the build queues.
 * - Checksums-Sha256 is required; Files (MD5) is optional, may not name a file
 *   Checksums-Sha256 lacks, and must agree on sizes. Files may use Debian's
 *   five columns (`<md5> <size> <section> <priority> <name>`); section and
 *   priority are ignored.
 * - Hashes are accepted in either case and kept in lower case.
 * - Format must be 1.8, the one version written here.
 * - Changed-By defaults to Maintainer, Platform to `all`.
 * - Description lines are read and written trimmed; in Changes only the
 *   one-space continuation indent is removed, so the change log entry keeps
 *   its own indentation, and ` .` stands for a blank line, as in Debian.
 */
import { FormatError } from '../errors.js';
import { architectureProblem, platformProblem } from './architecture.js';
import { continuationLines, formatStanza, listValue, multilineValue, parseSingleStanza, Stanza } from './control.js';
import { packageNameProblem, sourceNameProblem } from './names.js';
import { versionForFileName, versionProblem } from './version.js';

/** One uploaded file as the .changes lists it. */
export interface ChangesFile {
  /** A plain basename, safe to join to the upload directory. */
  readonly name: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
  /** Lower-case hex; present when the Files field lists the file. */
  readonly md5?: string;
}

/** What `formatChanges` writes and `parseChanges` gives back (round trip). */
export interface ChangesFields {
  /** RFC 5322 date. */
  readonly date: string;
  readonly source: string;
  /** Binary packages the source builds (the Binary field); may be empty. */
  readonly binaries: string[];
  /** Architectures the upload asks to build: `all`, `any`, real names or wildcards. */
  readonly architectures: string[];
  readonly platforms: string[];
  readonly version: string;
  readonly distribution: string;
  /** `Name <address>`. */
  readonly maintainer: string;
  /** `Name <address>` of the uploader. */
  readonly changedBy: string;
  /** The Description field's lines (`<binary> - <summary>`), joined by "\n"; empty when absent. */
  readonly description: string;
  /** The change log entry (header and body, indentation kept), lines joined by "\n"; empty when absent. */
  readonly changesText: string;
  /** The uploaded files, in Checksums-Sha256 order. */
  readonly files: ChangesFile[];
}

/** A valid .changes. */
export interface Changes extends ChangesFields {
  /** Every field as read, unknown ones included. */
  readonly stanza: Stanza;
}

/** Everything `inspectChanges` learnt from a .changes, valid or not. */
export interface ChangesInspection {
  /** Every problem, one line each (`<file>:<line>: <what>`); empty when the .changes is valid. */
  readonly problems: string[];
  /** The upload, only when there are no problems. */
  readonly changes?: Changes;
  /** The fields when the syntax parsed (untrusted), e.g. to address a rejection. */
  readonly stanza?: Stanza;
  /**
   * The well-formed Checksums-Sha256 entries, with MD5 from well-formed Files
   * entries, even when other problems exist, so that `checkUpload` can report
   * file problems alongside them.
   */
  readonly files: ChangesFile[];
}

/** The only Format read and written. */
export const CHANGES_FORMAT = '1.8';

const REQUIRED = [
  'Format',
  'Date',
  'Source',
  'Version',
  'Distribution',
  'Architecture',
  'Maintainer',
  'Checksums-Sha256',
] as const;

const DISTRIBUTION = /^[a-z0-9][a-z0-9.+-]*$/;
/** `Name <address>`; no control character (a CR would smuggle a header into mail), no second line. */
// eslint-disable-next-line no-control-regex
const PERSON = /^[^<>\s][^<>\x00-\x1f\x7f]* <[^<>\s]+>$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._~-]*$/;
/** NAME_MAX on the filesystems a queue root lives on. */
const FILE_NAME_MAX = 255;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const MD5 = /^[0-9a-fA-F]{32}$/;
const SIZE = /^[0-9]+$/;

/** The file name of a source package upload: `<source>_<version without epoch>_src.opk`. */
export function sourcePackageFileName(source: string, version: string): string {
  return `${source}_${versionForFileName(version)}_src.opk`;
}

/** Why a listed file name is not a safe plain basename, or undefined when it is. */
export function uploadFileNameProblem(name: string): string | undefined {
  if (!FILE_NAME.test(name) || name.includes('..')) {
    return `file name ${quote(name)} is not a plain file name ([A-Za-z0-9][A-Za-z0-9+._~-]*, without "..")`;
  }
  if (Buffer.byteLength(name) > FILE_NAME_MAX) return `file name ${quote(name)} is longer than ${FILE_NAME_MAX} bytes`;
  return undefined;
}

/** Parses and validates a .changes; throws a FormatError naming the file and line of the first problem. */
export function parseChanges(text: string, file: string): Changes {
  const result = analyse(text, file);
  if (result.error) throw result.error;
  const first = result.problems[0];
  if (first) throw new FormatError('changes.malformed', file, first.detail, first.line);
  return result.changes as Changes;
}

/** Parses and validates a .changes without throwing, collecting every problem. */
export function inspectChanges(text: string, file: string): ChangesInspection {
  const result = analyse(text, file);
  const problems = result.error
    ? [result.error.message]
    : result.problems.map((problem) => new FormatError('changes.malformed', file, problem.detail, problem.line).message);
  return {
    problems,
    ...(problems.length === 0 && result.changes ? { changes: result.changes } : {}),
    ...(result.stanza ? { stanza: result.stanza } : {}),
    files: result.files,
  };
}

/**
 * Writes a .changes (Format 1.8) in Debian's field order. Lines of
 * `changesText` lose trailing whitespace and blank ones are written as `.`,
 * as Debian does. Throws a FormatError when the fields would not read back as
 * a valid .changes, so nothing this writes is later rejected as malformed.
 */
export function formatChanges(fields: ChangesFields): string {
  const stanza = new Stanza();
  stanza.set('Format', CHANGES_FORMAT);
  stanza.set('Date', fields.date);
  stanza.set('Source', fields.source);
  if (fields.binaries.length > 0) stanza.set('Binary', fields.binaries.join(' '));
  stanza.set('Architecture', fields.architectures.join(' '));
  stanza.set('Platform', fields.platforms.join(' '));
  stanza.set('Version', fields.version);
  stanza.set('Distribution', fields.distribution);
  stanza.set('Maintainer', fields.maintainer);
  stanza.set('Changed-By', fields.changedBy);
  if (fields.description !== '') {
    stanza.set('Description', multilineValue('', fields.description.split('\n').map((line) => line.trim())));
  }
  if (fields.changesText !== '') {
    // A change log entry keeps its own indentation (`  * change`); blank lines become ` .`.
    stanza.set('Changes', multilineValue('', fields.changesText.split('\n').map((line) => line.trimEnd())));
  }
  stanza.set('Checksums-Sha256', multilineValue('', fields.files.map((f) => `${f.sha256} ${f.size} ${f.name}`)));
  const withMd5 = fields.files.filter((f) => f.md5 !== undefined);
  if (withMd5.length > 0) {
    stanza.set('Files', multilineValue('', withMd5.map((f) => `${f.md5} ${f.size} ${f.name}`)));
  }
  const text = formatStanza(stanza);
  parseChanges(text, '<output>');
  return text;
}

interface Problem {
  readonly detail: string;
  readonly line?: number;
}

interface Analysis {
  /** A syntax error of the control parser: nothing else could be checked. */
  readonly error?: FormatError;
  readonly problems: Problem[];
  readonly stanza?: Stanza;
  readonly changes?: Changes;
  readonly files: ChangesFile[];
}

/** A checksum list entry, with the line it is on. */
interface Entry {
  readonly name: string;
  readonly size: number;
  readonly hash: string;
  readonly line: number | undefined;
}

function analyse(text: string, file: string): Analysis {
  let stanza: Stanza;
  try {
    stanza = parseSingleStanza(text, { file });
  } catch (error) {
    if (error instanceof FormatError) return { error, problems: [], files: [] };
    throw error;
  }
  const problems: Problem[] = [];
  const report = (field: string, detail: string): void => {
    problems.push({ detail, line: stanza.lineOf(field) });
  };

  for (const field of REQUIRED) {
    if (!stanza.has(field)) problems.push({ detail: `missing required field "${field}"` });
    else if (stanza.get(field) === '') report(field, `${field} is empty`);
  }
  /** The value of a present, non-empty field. */
  const value = (field: string): string | undefined => {
    const found = stanza.get(field);
    return found === undefined || found === '' ? undefined : found;
  };

  const format = value('Format');
  if (format !== undefined && format !== CHANGES_FORMAT) {
    report('Format', `Format ${quote(format)} is not supported (only ${CHANGES_FORMAT})`);
  }
  const date = value('Date');
  if (date !== undefined && Number.isNaN(Date.parse(date))) {
    report('Date', `Date ${quote(date)} is not an RFC 5322 date`);
  }
  const source = value('Source');
  const sourceProblem = source === undefined ? undefined : sourceNameProblem(source);
  if (sourceProblem !== undefined) report('Source', `Source: ${sourceProblem}`);
  const version = value('Version');
  const versionTrouble = version === undefined ? undefined : versionProblem(version);
  if (versionTrouble !== undefined) report('Version', `Version ${quote(version ?? '')}: ${versionTrouble}`);
  const distribution = value('Distribution');
  if (distribution !== undefined && !DISTRIBUTION.test(distribution)) {
    report('Distribution', `Distribution ${quote(distribution)} is not one word matching [a-z0-9][a-z0-9.+-]*`);
  }

  const binaries = listValue(stanza.get('Binary'));
  for (const binary of binaries) {
    const problem = packageNameProblem(binary);
    if (problem !== undefined) report('Binary', `Binary: ${problem}`);
  }
  const architectures = listValue(stanza.get('Architecture'));
  if (value('Architecture') !== undefined && architectures.length === 0) report('Architecture', 'Architecture is empty');
  for (const architecture of architectures) {
    const problem = architectureProblem(architecture);
    if (problem !== undefined) report('Architecture', `Architecture: ${problem}`);
  }
  const platforms = stanza.has('Platform') ? listValue(stanza.get('Platform')) : ['all'];
  if (platforms.length === 0) report('Platform', 'Platform is empty');
  for (const platform of platforms) {
    const problem = platformProblem(platform);
    if (problem !== undefined) report('Platform', `Platform: ${problem}`);
  }

  const maintainer = value('Maintainer');
  if (maintainer !== undefined && !PERSON.test(maintainer)) {
    report('Maintainer', `Maintainer ${quote(maintainer)} is not "Name <address>"`);
  }
  const changedBy = stanza.has('Changed-By') ? stanza.get('Changed-By') : maintainer;
  if (stanza.has('Changed-By') && !PERSON.test(changedBy ?? '')) {
    report('Changed-By', `Changed-By ${quote(changedBy ?? '')} is not "Name <address>"`);
  }

  const sourcePackage =
    source !== undefined && sourceProblem === undefined && version !== undefined && versionTrouble === undefined
      ? sourcePackageFileName(source, version)
      : undefined;
  const files = checkFileLists(stanza, sourcePackage, problems);

  const description = stanza.get('Description');
  const changesField = stanza.get('Changes');
  const changes: Changes | undefined =
    problems.length === 0
      ? {
          date: date as string,
          source: source as string,
          binaries,
          architectures,
          platforms,
          version: version as string,
          distribution: distribution as string,
          maintainer: maintainer as string,
          changedBy: changedBy as string,
          description: description === undefined ? '' : descriptionLines(description).join('\n'),
          changesText: changesField === undefined ? '' : changesLines(changesField).join('\n'),
          files,
          stanza,
        }
      : undefined;
  // Reading order: missing fields first, then by line.
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { problems, stanza, files, ...(changes ? { changes } : {}) };
}

/**
 * Reads Checksums-Sha256 and Files, cross-checks them, and returns the
 * well-formed files. While Checksums-Sha256 has a malformed line, what it
 * lacks is not reported: that line is the one problem to fix.
 */
function checkFileLists(stanza: Stanza, sourcePackage: string | undefined, problems: Problem[]): ChangesFile[] {
  const sha256 = readList(stanza, 'Checksums-Sha256', problems);
  const md5 = readList(stanza, 'Files', problems);
  for (const entry of md5.entries.values()) {
    const listed = sha256.entries.get(entry.name);
    if (listed === undefined) {
      if (sha256.complete) {
        problems.push({ detail: `Files lists ${quote(entry.name)}, which Checksums-Sha256 does not`, line: entry.line });
      }
    } else if (listed.size !== entry.size) {
      problems.push({
        detail: `Files gives ${quote(entry.name)} size ${entry.size}, Checksums-Sha256 (line ${listed.line}) gives ${listed.size}`,
        line: entry.line,
      });
    }
  }
  if (sourcePackage !== undefined) {
    for (const entry of sha256.entries.values()) {
      if (entry.name !== sourcePackage) {
        problems.push({
          detail: `${quote(entry.name)} is not the source package ${quote(sourcePackage)}: uploads are source-only`,
          line: entry.line,
        });
      }
    }
    if (sha256.complete && (stanza.get('Checksums-Sha256') ?? '') !== '' && !sha256.entries.has(sourcePackage)) {
      problems.push({
        detail: `Checksums-Sha256 does not list the source package ${quote(sourcePackage)}`,
        line: stanza.lineOf('Checksums-Sha256'),
      });
    }
  }
  return [...sha256.entries.values()].map((entry) => {
    const md5Entry = md5.entries.get(entry.name);
    return {
      name: entry.name,
      size: entry.size,
      sha256: entry.hash,
      ...(md5Entry ? { md5: md5Entry.hash } : {}),
    };
  });
}

interface List {
  /** The well-formed entries by name, in order, each name once. */
  readonly entries: Map<string, Entry>;
  /** False when a line was malformed, so a file may be listed where it cannot be read. */
  readonly complete: boolean;
}

const LIST_SHAPES = {
  'Checksums-Sha256': { hash: SHA256, hashName: 'SHA-256', digits: 64, shape: '"<sha256> <size> <name>"' },
  Files: {
    hash: MD5,
    hashName: 'MD5',
    digits: 32,
    shape: '"<md5> <size> <name>" or "<md5> <size> <section> <priority> <name>"',
  },
} as const;

/** One checksum list; reports every malformed or repeated line. */
function readList(stanza: Stanza, field: keyof typeof LIST_SHAPES, problems: Problem[]): List {
  const entries = new Map<string, Entry>();
  const value = stanza.get(field);
  if (value === undefined) return { entries, complete: true };
  const { hash: hashPattern, hashName, digits, shape } = LIST_SHAPES[field];
  const start = stanza.lineOf(field);
  const lines = value.split('\n');
  let complete = true;
  if (lines[0] !== '') {
    problems.push({ detail: `${field} must start on the line after "${field}:", one file per line`, line: start });
    complete = false;
  }
  lines.slice(1).forEach((raw, index) => {
    const line = start === undefined ? undefined : start + index + 1;
    const problem = (detail: string): void => {
      problems.push({ detail, line });
      complete = false;
    };
    const text = raw.trim();
    const columns = text.split(/\s+/);
    if (!(columns.length === 3 || (field === 'Files' && columns.length === 5))) {
      return problem(`${field} line ${quote(text)} is not ${shape}`);
    }
    const [hash = '', size = ''] = columns;
    const name = columns.at(-1) ?? '';
    const before = problems.length;
    const nameProblem = uploadFileNameProblem(name);
    if (nameProblem !== undefined) problem(`${field}: ${nameProblem}`);
    if (!hashPattern.test(hash)) problem(`${field}: ${hashName} ${quote(hash)} of ${quote(name)} is not ${digits} hexadecimal digits`);
    if (!SIZE.test(size)) problem(`${field}: size ${quote(size)} of ${quote(name)} is not a decimal number of bytes`);
    else if (!Number.isSafeInteger(Number(size))) problem(`${field}: size ${quote(size)} of ${quote(name)} is too large`);
    if (problems.length > before) return;
    const first = entries.get(name);
    if (first) {
      problems.push({ detail: `${field} lists ${quote(name)} twice (first at line ${first.line})`, line });
      return;
    }
    entries.set(name, { name, size: Number(size), hash: hash.toLowerCase(), line });
  });
  return { entries, complete };
}

/** Description lines without their continuation indent; a non-empty first line counts as one. */
function descriptionLines(value: string): string[] {
  const [first = ''] = value.split('\n');
  const lines = continuationLines(value).map((line) => (line === '.' ? '' : line));
  return first === '' ? lines : [first, ...lines];
}

/** Change log lines: only the one-character continuation indent is removed, so the entry's own indentation stays. */
function changesLines(value: string): string[] {
  const [first = '', ...rest] = value.split('\n');
  const lines = rest.map((line) => line.slice(1)).map((line) => (line === '.' ? '' : line));
  return first === '' ? lines : [first, ...lines];
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
