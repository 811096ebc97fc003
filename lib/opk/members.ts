/**
 * What an opk holds and how each part is judged, shared by the streaming
 * reader (read.ts) and the in-memory one (scan.ts) so that both accept and
 * refuse the same packages with the same messages: the outer format by its
 * magic bytes, the members (`debian-binary`, `control.tar*`, `data.tar*`,
 * nothing else, each once), the control archive's entries, and the control
 * file itself.
 */
import { FormatError } from '../errors.js';
import { parseSingleStanza, type Stanza } from '../formats/control.js';
import { AR_MAGIC } from './ar.js';
import { MAX_CONTROL_FILE_SIZE } from './limits.js';

export type OuterFormat = 'ar' | 'tar' | 'tar.gz';

export type MemberKind = 'debian-binary' | 'control' | 'data';

/** Bytes of the outer archive's head that `detectOuterFormat` looks at. */
export const OUTER_HEAD_LENGTH = 512;
export const MAX_DEBIAN_BINARY_SIZE = 1024;

/** Decodes whole inputs only, so one decoder serves every package. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const CONTROL_MEMBER = /^control\.tar(\.[A-Za-z0-9]+)?$/;
const DATA_MEMBER = /^data\.tar(\.[A-Za-z0-9]+)?$/;

/** The outer archive's format, from its first bytes (up to OUTER_HEAD_LENGTH). */
export function detectOuterFormat(head: Buffer, file: string): OuterFormat {
  if (head.length === 0) throw new FormatError('opk.truncated', file, 'empty file');
  const arLength = Math.min(head.length, AR_MAGIC.length);
  if (head.subarray(0, arLength).equals(AR_MAGIC.subarray(0, arLength))) return 'ar';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (isTar(head)) return 'tar';
  throw new FormatError(
    'opk.bad-magic',
    file,
    'not an opk: expected an ar archive, a tar archive or a gzip-compressed tar archive',
  );
}

/** Whether a block starts a ustar archive. */
export function isTar(head: Buffer): boolean {
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

/** The error for gzip-compressed outer data that is not a tar archive. */
export function notTarInsideGzip(file: string): FormatError {
  return new FormatError('opk.bad-magic', file, 'not an opk: the gzip-compressed data is not a tar archive');
}

/** The error for an outer tar entry that is not a regular file (the root directory is skipped before). */
export function notAFileMember(file: string, path: string, type: string): FormatError {
  return new FormatError('opk.bad-member', file, `member "${path}" is not a regular file (${type})`);
}

/** Whether an outer tar entry is the archive's root directory, which carries nothing. */
export function isRootDirectory(path: string, type: string): boolean {
  const name = path.replace(/^(\.\/)+/, '');
  return type === 'directory' && (name === '' || name === '.');
}

/**
 * Tells the members of one outer archive apart: what each is, refusing an
 * unknown member and a second member of a kind; `finish` refuses a package
 * missing one.
 */
export class MemberSet {
  readonly #seen = new Set<MemberKind>();

  constructor(private readonly file: string) {}

  /** The kind of the member named `name` (as stored); the name without "./" goes to messages. */
  classify(name: string): { kind: MemberKind; name: string } {
    const bare = name.replace(/^(\.\/)+/, '');
    let kind: MemberKind;
    if (bare === 'debian-binary') kind = 'debian-binary';
    else if (CONTROL_MEMBER.test(bare)) kind = 'control';
    else if (DATA_MEMBER.test(bare)) kind = 'data';
    else {
      throw new FormatError(
        'opk.bad-member',
        this.file,
        `unexpected member "${name}" (an opk holds debian-binary, control.tar.* and data.tar.*)`,
      );
    }
    if (this.#seen.has(kind)) {
      throw new FormatError('opk.bad-member', this.file, kind === 'debian-binary' ? 'second debian-binary member' : `second ${kind} member "${name}"`);
    }
    this.#seen.add(kind);
    return { kind, name: bare };
  }

  finish(): void {
    if (!this.#seen.has('debian-binary')) throw new FormatError('opk.missing-member', this.file, 'no debian-binary member');
    if (!this.#seen.has('control')) throw new FormatError('opk.missing-member', this.file, 'no control.tar.* member');
    if (!this.#seen.has('data')) throw new FormatError('opk.missing-member', this.file, 'no data.tar.* member');
  }
}

/** The error for a debian-binary member larger than MAX_DEBIAN_BINARY_SIZE. */
export function debianBinaryTooLarge(file: string): FormatError {
  return new FormatError('opk.bad-member', file, `debian-binary is larger than ${MAX_DEBIAN_BINARY_SIZE} bytes`);
}

/** Checks debian-binary's content: a package format "2.x". */
export function checkDebianBinary(content: Buffer, file: string): void {
  const version = content.toString('latin1');
  if (!version.startsWith('2.')) {
    const shown = JSON.stringify(version.split('\n')[0]);
    throw new FormatError('opk.bad-member', file, `debian-binary: unsupported package format ${shown} (expected 2.x)`);
  }
}

/**
 * The files of a control archive: plain files at its top only, each once,
 * none larger than MAX_CONTROL_FILE_SIZE. `accept` takes an entry that passed
 * the safety checks (its path normalised) and says whether its content is to
 * be kept.
 */
export class ControlEntries {
  readonly #names = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly member: string,
  ) {}

  /** False for the root directory; true for a control file; throws for anything else. */
  accept(entry: { readonly path: string; readonly type: string; readonly size: number }, storedPath: string): boolean {
    const { path, type } = entry;
    if (path === '.') return false;
    if (type !== 'file' || path.includes('/')) {
      throw new FormatError(
        'opk.bad-member',
        this.file,
        `${this.member}: unexpected ${type} "${storedPath}" (a control archive holds only plain files)`,
      );
    }
    if (this.#names.has(path)) throw new FormatError('opk.bad-member', this.file, `${this.member}: "${path}" appears twice`);
    this.#names.add(path);
    if (entry.size > MAX_CONTROL_FILE_SIZE) throw this.tooLarge(path);
    return true;
  }

  /** The error for a control file larger than MAX_CONTROL_FILE_SIZE. */
  tooLarge(path: string): FormatError {
    return new FormatError('opk.too-large', this.file, `${this.member}: control file "${path}" is larger than ${MAX_CONTROL_FILE_SIZE} bytes`);
  }
}

/** The fields of the control file, whose content is `content` (undefined when the archive has none). */
export function controlStanzaOf(content: Buffer | undefined, member: string, file: string): Stanza {
  if (content === undefined) throw new FormatError('opk.missing-member', file, `${member}: no control file`);
  let text: string;
  try {
    text = UTF8.decode(content);
  } catch {
    throw new FormatError('opk.bad-member', file, `${member}: the control file is not valid UTF-8`);
  }
  return parseSingleStanza(text, { file: `${file}: ${member}/control` });
}
