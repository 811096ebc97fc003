/**
 * One section feed held by a writer between inclusions: each indexed
 * package's stanza text with its Package and Version (nothing else is
 * parsed: a 50,000-package archive's feeds parsed into Stanza objects took
 * 380 MiB and most of an inclusion's time), kept sorted, and the gzip
 * members of its chunks (packages-gz.ts), so that writing after a change
 * compresses only the chunks that changed.
 *
 * Reading a Packages file cuts it at its blank lines and finds the
 * `Package:` and `Version:` lines; a file that is not laid out as writers
 * of the archive write it (other spellings, extra blank lines, unsorted or
 * repeated packages) is parsed in full instead, and marked changed so the
 * next write puts it right. Members of the Packages.gz read along are
 * reused while they still hold their chunk's text.
 *
 * A section is cut only when it must be: most sections a writer reads are
 * only asked whether they list a package, which a search of the file's
 * bytes for the name answers (a Package field of any spelling has the name
 * between ":" or blanks and a blank or the end of its line; a name found
 * only elsewhere, in a Depends, costs a cut).
 */
import { isAscii } from 'node:buffer';
import { FormatError } from '../errors.js';
import { formatStanza, parseControl } from '../formats/control.js';
import { compareVersions, versionProblem } from '../formats/version.js';
import { chunkBytes, chunkStarts, chunkText, gzipMember, memberHolds, splitMembers, startsChunk, type Member } from './packages-gz.js';

/** One package's stanza in a feed. */
export interface IndexedStanza {
  readonly package: string;
  readonly version: string;
  /** formatStanza's text (ends with a newline). */
  readonly text: string;
}

/** A stanza as a section keeps it: with whether a gzip chunk starts at it (computed once). */
interface Listed extends IndexedStanza {
  readonly startsChunk: boolean;
}

/** A chunk's gzip member and the stanzas it was made of. */
interface CachedChunk {
  readonly stanzas: readonly Listed[];
  readonly member: Buffer;
}

/** What a section writes: its Packages text and Packages.gz. */
export interface SectionFiles {
  readonly text: string;
  readonly gz: Buffer;
}

export class SectionFeed {
  /** Sorted by package name (byte order), one stanza per package. */
  #stanzas: Listed[] = [];
  /** Gzip members of the chunks as last written (or read), by chunkKey. */
  #chunks = new Map<string, CachedChunk>();
  /** The Packages and Packages.gz files as read, until the section is cut. */
  #files: { readonly packages: Buffer; readonly gz: Buffer | undefined } | undefined;
  /** The last package a search found the uncut files cannot list (an inclusion asks, then unlists it). */
  #notListed: string | undefined;
  /** True when the files on disk are not what `files` would write. */
  changed = false;

  /** `file` names the Packages file in errors. */
  private constructor(readonly file: string) {}

  /** An empty section (no Packages file yet). */
  static empty(file: string): SectionFeed {
    const section = new SectionFeed(file);
    section.changed = true;
    return section;
  }

  /** A section as its Packages file and Packages.gz (when there is one) hold it; cut when first needed. */
  static read(file: string, packages: Buffer, gz: Buffer | undefined): SectionFeed {
    const section = new SectionFeed(file);
    section.#files = { packages, gz };
    return section;
  }

  /** Cuts the files as read into stanzas, once. */
  #cut(): void {
    if (this.#files === undefined) return;
    const { packages, gz } = this.#files;
    this.#files = undefined;
    // Feeds are nearly always ASCII, which decodes several times faster as latin1 (the same characters then).
    const ascii = isAscii(packages);
    const text = packages.toString(ascii ? 'latin1' : 'utf8');
    const laidOut = cutStanzas(text);
    if (laidOut === undefined) {
      this.#stanzas = parseStanzas(text, this.file).map(listed);
      this.changed = true;
    } else {
      this.#stanzas = laidOut.stanzas;
      // Offsets in an ASCII text are offsets in the file.
      this.#reuseMembers(gz, ascii ? { packages, offsets: laidOut.offsets } : undefined);
    }
  }

  /** False when the section cannot list `pkg`; true when it may (it is then cut to know). */
  #mayList(pkg: string): boolean {
    if (this.#files === undefined) return true;
    if (this.#notListed === pkg) return false;
    const { packages } = this.#files;
    const name = Buffer.from(pkg);
    for (let at = packages.indexOf(name); at >= 0; at = packages.indexOf(name, at + 1)) {
      const before = at === 0 ? undefined : packages[at - 1];
      const after = packages[at + name.length];
      if ((before === COLON || before === SPACE || before === TAB) && (after === undefined || after === NEWLINE || after === SPACE || after === TAB || after === RETURN)) {
        return true;
      }
    }
    this.#notListed = pkg;
    return false;
  }

  /** The package's stanza, its version checked. */
  get(pkg: string): IndexedStanza | undefined {
    if (!this.#mayList(pkg)) return undefined;
    this.#cut();
    const at = this.#find(pkg);
    const stanza = this.#stanzas[at];
    if (stanza?.package !== pkg) return undefined;
    const problem = versionProblem(stanza.version);
    if (problem !== undefined) throw new FormatError('control.bad-field', this.file, `Version of ${pkg}: ${problem}`);
    return stanza;
  }

  /** Lists `stanza`, replacing the package's stanza if any. */
  set(stanza: IndexedStanza): void {
    this.#cut();
    const at = this.#find(stanza.package);
    if (this.#stanzas[at]?.package === stanza.package) this.#stanzas[at] = listed(stanza);
    else this.#stanzas.splice(at, 0, listed(stanza));
    this.changed = true;
  }

  /** Unlists a package; false when it was not listed. */
  delete(pkg: string): boolean {
    if (!this.#mayList(pkg)) return false;
    this.#cut();
    const at = this.#find(pkg);
    if (this.#stanzas[at]?.package !== pkg) return false;
    this.#stanzas.splice(at, 1);
    this.changed = true;
    return true;
  }

  /** The Packages text and Packages.gz of the section now; chunks unchanged since the last call keep their member. */
  files(): SectionFiles {
    this.#cut();
    const stanzas = this.#stanzas;
    const text = stanzas.map((stanza) => stanza.text).join('\n');
    if (stanzas.length === 0) {
      this.#chunks.clear();
      return { text, gz: gzipMember('') };
    }
    const chunks = new Map<string, CachedChunk>();
    const members: Buffer[] = [];
    const starts = chunkStarts(stanzas);
    starts.forEach((start, i) => {
      const end = starts[i + 1] ?? stanzas.length;
      const key = chunkKey(stanzas, start);
      let chunk = this.#chunks.get(key);
      if (chunk === undefined || !sameStanzas(chunk.stanzas, stanzas, start, end)) {
        chunk = { stanzas: stanzas.slice(start, end), member: gzipMember(chunkText(stanzas, start, end)) };
      }
      chunks.set(key, chunk);
      members.push(chunk.member);
    });
    this.#chunks = chunks;
    return { text, gz: Buffer.concat(members) };
  }

  /** Keeps the members of `gz` that hold their chunk's text as read (`ascii`: the file and its stanzas' offsets, to check bytes in place). */
  #reuseMembers(gz: Buffer | undefined, ascii: { packages: Buffer; offsets: readonly number[] } | undefined): void {
    const stanzas = this.#stanzas;
    const members = gz === undefined ? undefined : splitMembers(gz);
    const starts = chunkStarts(stanzas);
    if (members === undefined || members.length !== Math.max(starts.length, 1) || (starts.length === 0 && !memberHolds(members[0] as Member, ''))) {
      // Missing, from an older writer, or out of step with Packages (a crash between the two): written again.
      this.changed = true;
      return;
    }
    starts.forEach((start, i) => {
      const end = starts[i + 1] ?? stanzas.length;
      const member = members[i];
      const data = ascii === undefined ? chunkText(stanzas, start, end) : chunkBytes(ascii.packages, ascii.offsets, start, end);
      if (member !== undefined && memberHolds(member, data)) {
        this.#chunks.set(chunkKey(stanzas, start), { stanzas: stanzas.slice(start, end), member: Buffer.from(member.bytes) });
      } else this.changed = true;
    });
  }

  /** Index of the package's stanza, or where it would go. */
  #find(pkg: string): number {
    let low = 0;
    let high = this.#stanzas.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#stanzas[middle] as IndexedStanza).package < pkg) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** A chunk is known by its first package, and whether it starts the feed (its text then has no leading blank line). */
function chunkKey(stanzas: readonly Listed[], start: number): string {
  return `${start === 0 ? '^' : ''}${(stanzas[start] as IndexedStanza).package}`;
}

function sameStanzas(cached: readonly Listed[], stanzas: readonly Listed[], start: number, end: number): boolean {
  if (cached.length !== end - start) return false;
  for (let i = 0; i < cached.length; i++) if (cached[i] !== stanzas[start + i]) return false;
  return true;
}

function listed(stanza: IndexedStanza): Listed {
  return { package: stanza.package, version: stanza.version, text: stanza.text, startsChunk: startsChunk(stanza.package) };
}

/**
 * The stanzas of a Packages text laid out as the archive writes it (stanzas
 * one blank line apart, each with `Package: ` and `Version: ` lines, sorted
 * by package, each once), without parsing their other fields, and where
 * each starts; undefined when the text is laid out otherwise.
 */
function cutStanzas(text: string): { stanzas: Listed[]; offsets: number[] } | undefined {
  const stanzas: Listed[] = [];
  const offsets: number[] = [];
  if (text === '') return { stanzas, offsets };
  if (!text.endsWith('\n')) return undefined;
  let start = 0;
  let previous = '';
  while (start < text.length) {
    const blank = text.indexOf('\n\n', start);
    const end = blank < 0 ? text.length : blank + 1;
    if (end === start || text[start] === '\n') return undefined;
    const stanza = text.slice(start, end);
    const pkg = fieldValue(stanza, 'Package');
    const version = fieldValue(stanza, 'Version');
    if (pkg === undefined || version === undefined || pkg <= previous) return undefined;
    stanzas.push({ package: pkg, version, text: stanza, startsChunk: startsChunk(pkg) });
    offsets.push(start);
    previous = pkg;
    start = end + 1;
    if (blank >= 0 && start >= text.length) return undefined;
  }
  return { stanzas, offsets };
}

/** The one-line value of a field spelled `name` at the start of a line of `stanza`. */
export function fieldValue(stanza: string, name: string): string | undefined {
  const label = `${name}: `;
  let at = 0;
  if (!stanza.startsWith(label)) {
    at = stanza.indexOf(`\n${label}`) + 1;
    if (at === 0) return undefined;
  }
  const from = at + label.length;
  const end = stanza.indexOf('\n', from);
  return stanza.slice(from, end < 0 ? stanza.length : end);
}

/** Every stanza of a Packages text, parsed in full, sorted; a package listed twice keeps its highest version. */
function parseStanzas(text: string, file: string): IndexedStanza[] {
  const byPackage = new Map<string, IndexedStanza>();
  for (const stanza of parseControl(text, { file })) {
    const pkg = stanza.get('Package');
    const version = stanza.get('Version');
    if (pkg === undefined || version === undefined) {
      const missing = pkg === undefined ? 'Package' : 'Version';
      throw new FormatError('control.missing-field', file, `a stanza has no ${missing} field`, stanza.lineOf(pkg === undefined ? 'Version' : 'Package'));
    }
    const problem = versionProblem(version);
    if (problem !== undefined) throw new FormatError('control.bad-field', file, `Version of ${pkg}: ${problem}`, stanza.lineOf('Version'));
    const known = byPackage.get(pkg);
    if (known === undefined || compareVersions(version, known.version) > 0) byPackage.set(pkg, { package: pkg, version, text: formatStanza(stanza) });
  }
  return [...byPackage.values()].sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));
}
