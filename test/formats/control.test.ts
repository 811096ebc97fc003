import { describe, expect, it } from 'vitest';
import {
  Stanza,
  continuationLines,
  formatControl,
  formatStanza,
  listValue,
  multilineValue,
  parseControl,
  parseSingleStanza,
} from '../../lib/formats/control.js';
import { formatErrorOf } from '../support/errors.js';

const packages = `Package: hello
Version: 1.0-1
Architecture: amd64-linux-glibc
Platform: all
Description: greets the world
 A longer text that spans
 .
 two paragraphs.

Package: hello-doc
Version: 1.0-1
Architecture: all
Platform: all
Description: documentation for hello
`;

describe('parseControl', () => {
  it('reads stanzas, fields in order, and continuation lines verbatim', () => {
    const stanzas = parseControl(packages, { file: 'Packages' });
    expect(stanzas).toHaveLength(2);
    const [hello, doc] = stanzas as [Stanza, Stanza];
    expect(hello.names()).toEqual(['Package', 'Version', 'Architecture', 'Platform', 'Description']);
    expect(hello.get('description')).toBe('greets the world\n A longer text that spans\n .\n two paragraphs.');
    expect(continuationLines(hello.get('Description') ?? '')).toEqual(['A longer text that spans', '.', 'two paragraphs.']);
    expect(doc.get('PACKAGE')).toBe('hello-doc');
    expect(hello.lineOf('Version')).toBe(2);
    expect(doc.lineOf('Version')).toBe(11);
  });

  it('treats several blank or whitespace-only lines as one separator and trims trailing space and CR', () => {
    const stanzas = parseControl('A: 1  \r\n\n  \n\t\nB: 2\n\n\n', { file: 'x' });
    expect(stanzas.map((stanza) => stanza.entries())).toEqual([[['A', '1']], [['B', '2']]]);
  });

  it('keeps an empty first line for list fields', () => {
    const stanza = parseSingleStanza('Checksums-Sha256:\n abc 12 a.opk\n def 34 b.opk\n', { file: 'x.changes' });
    expect(stanza.get('Checksums-Sha256')).toBe('\n abc 12 a.opk\n def 34 b.opk');
    expect(continuationLines(stanza.get('Checksums-Sha256') ?? '')).toEqual(['abc 12 a.opk', 'def 34 b.opk']);
  });

  it('skips comments only where the format allows them', () => {
    const text = '# a comment\nSource: hello\n# another\nMaintainer: Jane <jane@example.org>\n';
    expect(parseSingleStanza(text, { file: 'control', allowComments: true }).entries()).toEqual([
      ['Source', 'hello'],
      ['Maintainer', 'Jane <jane@example.org>'],
    ]);
    expect(formatErrorOf(() => parseControl(text, { file: 'Packages' })).message).toBe(
      'Packages:1: malformed line (expected "Field: value"): "# a comment"',
    );
  });

  it('returns no stanza for an empty file', () => {
    expect(parseControl('', { file: 'x' })).toEqual([]);
    expect(parseControl('\n\n', { file: 'x' })).toEqual([]);
  });

  it.each([
    ['duplicate field, case-insensitive', 'Package: a\nVersion: 1\npackage: b\n', 'control.duplicate-field', 'control:3: duplicate field "package" (first at line 1)'],
    ['line without colon', 'Package: a\nnot a field\n', 'control.malformed-line', 'control:2: malformed line (expected "Field: value"): "not a field"'],
    ['line starting with colon', ': value\n', 'control.malformed-line', 'control:1: malformed line (expected "Field: value"): ": value"'],
    ['continuation before any field', ' leading\nPackage: a\n', 'control.continuation-without-field', 'control:1: continuation line before any field'],
    ['continuation after a blank line', 'Package: a\n\n more\n', 'control.continuation-without-field', 'control:3: continuation line before any field'],
    ['field name with a space', 'Bad Name: x\n', 'control.bad-field-name', 'control:1: bad field name "Bad Name"'],
    ['field name starting with a hyphen', '-Name: x\n', 'control.bad-field-name', 'control:1: bad field name "-Name"'],
    ['NUL byte', 'Package: a\nVersion: 1\0\n', 'control.nul-byte', 'control:2: NUL byte in control data'],
    ['PGP armour (uploads are unsigned)', '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n', 'control.malformed-line', 'control:1: malformed line (expected "Field: value"): "-----BEGIN PGP SIGNED MESSAGE-----"'],
  ])('refuses %s', (_name, text, code, message) => {
    const error = formatErrorOf(() => parseControl(text, { file: 'control' }));
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
  });

  it('truncated file: a field cut mid-line still parses, a cut name does not', () => {
    expect(parseSingleStanza('Package: hel', { file: 'c' }).get('Package')).toBe('hel');
    expect(formatErrorOf(() => parseSingleStanza('Package: a\nVers', { file: 'c' })).message).toBe(
      'c:2: malformed line (expected "Field: value"): "Vers"',
    );
  });

  it('parseSingleStanza refuses zero or several stanzas', () => {
    expect(formatErrorOf(() => parseSingleStanza('', { file: 'control' })).message).toBe('control: expected one stanza, found 0');
    expect(formatErrorOf(() => parseSingleStanza('A: 1\n\nB: 2\n', { file: 'control' })).message).toBe(
      'control: expected one stanza, found 2',
    );
  });
});

describe('formatControl', () => {
  it('round-trips: write(read(x)) gives the same bytes', () => {
    expect(formatControl(parseControl(packages, { file: 'Packages' }))).toBe(packages);
    const changes = 'Format: 1.8\nFiles:\n abc 12 a.opk\nEmpty:\n';
    expect(formatStanza(parseSingleStanza(changes, { file: 'x' }))).toBe(changes);
  });

  it('round-trips read(write(x)) for built stanzas', () => {
    const stanza = new Stanza([
      ['Package', 'hello'],
      ['Description', multilineValue('short', ['long line', '', 'after blank'])],
      ['Checksums-Sha256', multilineValue('', ['abc 1 a', 'def 2 b'])],
    ]);
    const text = formatStanza(stanza);
    expect(text).toBe('Package: hello\nDescription: short\n long line\n .\n after blank\nChecksums-Sha256:\n abc 1 a\n def 2 b\n');
    expect(parseSingleStanza(text, { file: 'x' }).entries()).toEqual(stanza.entries());
  });

  it('writes continuation lines with deeper indentation (change log entries)', () => {
    const stanza = new Stanza([['Changes', multilineValue('', ['hello (1.0) trunk', '', '  * Initial release.'])]]);
    expect(formatStanza(stanza)).toBe('Changes:\n hello (1.0) trunk\n .\n   * Initial release.\n');
  });

  it('set keeps field position; delete removes', () => {
    const stanza = new Stanza([['A', '1'], ['B', '2']]);
    stanza.set('a', '3').set('C', '4');
    stanza.delete('b');
    expect(stanza.entries()).toEqual([['A', '3'], ['C', '4']]);
    expect(stanza.size).toBe(2);
  });

  it.each([
    ['a smuggled field', 'x\nInjected: yes', 'control.bad-value'],
    ['a smuggled stanza', 'x\n\nPackage: evil', 'control.bad-value'],
    ['a CR', 'x\rInjected: yes', 'control.bad-value'],
    ['a NUL', 'x\0', 'control.bad-value'],
    ['surrounding whitespace', ' x', 'control.bad-value'],
  ])('refuses to write a value with %s', (_name, value, code) => {
    expect(formatErrorOf(() => formatStanza(new Stanza([['Maintainer', value]]))).code).toBe(code);
  });

  it('refuses to set a bad field name', () => {
    expect(formatErrorOf(() => new Stanza([['Bad: name', 'x']])).code).toBe('control.bad-field-name');
  });
});

describe('listValue', () => {
  it('splits on spaces and commas', () => {
    expect(listValue('any  all')).toEqual(['any', 'all']);
    expect(listValue('a, b,c')).toEqual(['a', 'b', 'c']);
    expect(listValue(undefined)).toEqual([]);
    expect(listValue('')).toEqual([]);
  });
});
