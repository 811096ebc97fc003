/**
 * Control files: RFC-822 style stanzas as used by opk control files, source
 * package control files, .changes files and Packages indexes (deb822).
 *
 * A field value keeps its continuation lines verbatim, joined by "\n" and each
 * still starting with its space or tab, so that writing what was read gives
 * the same bytes back (Description long texts and checksum lists included).
 */
import { FormatError } from '../errors.js';

export interface ParseOptions {
  /** Name used in error messages. */
  readonly file: string;
  /** Allow `#` comment lines (source package control files allow them; indexes and .changes do not). */
  readonly allowComments?: boolean;
}

interface Field {
  readonly name: string;
  value: string;
  /** Line the field started on, when it was parsed from a file. */
  readonly line?: number;
}

/** One stanza (paragraph): an ordered set of fields whose names compare case-insensitively. */
export class Stanza {
  readonly #fields = new Map<string, Field>();

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [name, value] of entries) this.set(name, value);
  }

  /** The field's value, or undefined when absent. */
  get(name: string): string | undefined {
    return this.#fields.get(name.toLowerCase())?.value;
  }

  /** The line a parsed field started on. */
  lineOf(name: string): number | undefined {
    return this.#fields.get(name.toLowerCase())?.line;
  }

  has(name: string): boolean {
    return this.#fields.has(name.toLowerCase());
  }

  /** Sets a field, keeping its position when it exists already. */
  set(name: string, value: string): this {
    assertFieldName(name);
    const existing = this.#fields.get(name.toLowerCase());
    if (existing) existing.value = value;
    else this.#fields.set(name.toLowerCase(), { name, value });
    return this;
  }

  delete(name: string): boolean {
    return this.#fields.delete(name.toLowerCase());
  }

  /** Field names in their original spelling and order. */
  names(): string[] {
    return [...this.#fields.values()].map((field) => field.name);
  }

  entries(): Array<[string, string]> {
    return [...this.#fields.values()].map((field) => [field.name, field.value]);
  }

  get size(): number {
    return this.#fields.size;
  }

  /** @internal used by the parser to keep line numbers. */
  addParsed(field: Field): void {
    this.#fields.set(field.name.toLowerCase(), field);
  }
}

/** Parses every stanza of a control file. Blank lines separate stanzas. */
export function parseControl(text: string, options: ParseOptions): Stanza[] {
  const { file } = options;
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    throw new FormatError('control.nul-byte', file, 'NUL byte in control data', lineAt(text, nul));
  }
  const stanzas: Stanza[] = [];
  let stanza: Stanza | undefined;
  let current: Field | undefined;
  const lines = text.split('\n');
  // A final newline leaves one empty string behind; it is not a line.
  if (lines.at(-1) === '') lines.pop();

  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.replace(/[ \t\r]+$/, '');
    if (line === '') {
      stanza = undefined;
      current = undefined;
      return;
    }
    if (line.startsWith('#') && options.allowComments) return;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!current) {
        throw new FormatError(
          'control.continuation-without-field',
          file,
          'continuation line before any field',
          lineNumber,
        );
      }
      current.value += `\n${line}`;
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new FormatError('control.malformed-line', file, `malformed line (expected "Field: value"): ${quote(line)}`, lineNumber);
    }
    const name = line.slice(0, colon);
    if (!isFieldName(name)) {
      throw new FormatError('control.bad-field-name', file, `bad field name ${quote(name)}`, lineNumber);
    }
    if (!stanza) {
      stanza = new Stanza();
      stanzas.push(stanza);
    }
    if (stanza.has(name)) {
      throw new FormatError(
        'control.duplicate-field',
        file,
        `duplicate field "${name}" (first at line ${stanza.lineOf(name)})`,
        lineNumber,
      );
    }
    current = { name, value: line.slice(colon + 1).trim(), line: lineNumber };
    stanza.addParsed(current);
  });
  return stanzas;
}

/** Parses a file that must hold exactly one stanza (an opk control file, a .changes). */
export function parseSingleStanza(text: string, options: ParseOptions): Stanza {
  const stanzas = parseControl(text, options);
  if (stanzas.length !== 1) {
    throw new FormatError(
      'control.stanza-count',
      options.file,
      `expected one stanza, found ${stanzas.length}`,
    );
  }
  return stanzas[0] as Stanza;
}

/** Writes stanzas separated by blank lines, each field as `Name: value`. */
export function formatControl(stanzas: Iterable<Stanza>): string {
  return [...stanzas].map(formatStanza).join('\n');
}

/** Writes one stanza, ending with a newline. */
export function formatStanza(stanza: Stanza): string {
  let out = '';
  for (const [name, value] of stanza.entries()) {
    assertFieldValue(name, value);
    out += value === '' || value.startsWith('\n') ? `${name}:${value}\n` : `${name}: ${value}\n`;
  }
  return out;
}

/**
 * The continuation lines of a multi-line field (a checksum list, a Description
 * long text), each without its leading whitespace. The first line is not included.
 */
export function continuationLines(value: string): string[] {
  return value.split('\n').slice(1).map((line) => line.trim());
}

/** Builds a multi-line value from a first line (possibly empty) and continuation lines. */
export function multilineValue(first: string, lines: readonly string[]): string {
  return first + lines.map((line) => `\n ${line === '' ? '.' : line}`).join('');
}

/** Splits a whitespace-separated list field (Architecture, Binary, Platform). */
export function listValue(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/[\s,]+/).filter((item) => item !== '');
}

function isFieldName(name: string): boolean {
  // deb822: printable US-ASCII except colon and space, not starting with # or -.
  return /^[!-9;-~]+$/.test(name) && !name.startsWith('#') && !name.startsWith('-');
}

function assertFieldName(name: string): void {
  if (!isFieldName(name)) {
    throw new FormatError('control.bad-field-name', '<output>', `bad field name ${quote(name)}`);
  }
}

/** Refuses values that would change the meaning of the written file (a smuggled field or stanza). */
function assertFieldValue(name: string, value: string): void {
  if (value.includes('\0') || value.includes('\r')) {
    throw new FormatError('control.bad-value', '<output>', `field "${name}" has a NUL or CR character`);
  }
  const lines = value.split('\n');
  if (lines[0] !== lines[0]?.trim()) {
    throw new FormatError('control.bad-value', '<output>', `field "${name}" has surrounding whitespace`);
  }
  for (const line of lines.slice(1)) {
    if (!/^[ \t]+\S/.test(line)) {
      throw new FormatError(
        'control.bad-value',
        '<output>',
        `field "${name}" has a continuation line that is empty or does not start with a space`,
      );
    }
  }
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
