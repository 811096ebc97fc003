import { describe, expect, it } from 'vitest';
import { parseChangelogEntry } from '../../lib/formats/changelog.js';
import { FormatError } from '../../lib/errors.js';

const changelog = `hello (1:1.0-2) trunk; urgency=low

  * Fix the greeting.

  * Second paragraph.

 -- Jane Doe <jane@example.org>  Sat, 21 Nov 2026 12:00:00 +0000

hello (1.0-1) trunk

  * Initial release.

 -- Jane Doe <jane@example.org>  Fri, 20 Nov 2026 12:00:00 +0000
`;

function messageOf(text: string): string {
  try {
    parseChangelogEntry(text, 'hello/changelog');
  } catch (error) {
    if (error instanceof FormatError) return error.message;
    throw error;
  }
  throw new Error('expected a FormatError');
}

describe('parseChangelogEntry', () => {
  it('reads the first entry only', () => {
    const entry = parseChangelogEntry(changelog, 'changelog');
    expect(entry).toEqual({
      source: 'hello',
      version: '1:1.0-2',
      distribution: 'trunk',
      lines: ['hello (1:1.0-2) trunk; urgency=low', '', '  * Fix the greeting.', '', '  * Second paragraph.'],
      changedBy: 'Jane Doe <jane@example.org>',
      date: 'Sat, 21 Nov 2026 12:00:00 +0000',
      timestamp: Date.UTC(2026, 10, 21, 12) / 1000,
    });
  });

  it('accepts a header without urgency and leading blank lines', () => {
    const entry = parseChangelogEntry('\n\nfoo (2.0) rs1\n  * x\n -- A <a@b>  Mon, 02 Nov 2026 00:00:00 -0500\n', 'c');
    expect(entry.distribution).toBe('rs1');
    expect(entry.timestamp).toBe(Date.UTC(2026, 10, 2, 5) / 1000);
  });

  it.each([
    ['', 'hello/changelog: change log is empty'],
    ['hello 1.0 trunk\n', 'hello/changelog:1: first entry header is not "<source> (<version>) <distribution>": "hello 1.0 trunk"'],
    ['Hello (1.0) trunk\n', 'hello/changelog:1: package name "Hello" must match [a-z0-9][a-z0-9+.-]+'],
    ['src-hello (1.0) trunk\n', 'hello/changelog:1: source name "src-hello" uses the reserved prefix "src-"'],
    ['hello (x1.0) trunk\n', 'hello/changelog:1: upstream version does not start with a digit'],
    ['hello (1.0) trunk rs1\n', 'hello/changelog:1: distribution "trunk rs1" must be one word of [a-z0-9.+-]'],
    ['hello (1.0) trunk\n\n  * x\n', 'hello/changelog:1: first entry has no " -- Name <address>  date" trailer'],
    ['hello (1.0) trunk\n  * x\n -- Jane <j@e> Sat, 21 Nov 2026 12:00:00 +0000\n', 'hello/changelog:3: trailer is not " -- Name <address>  date" (two spaces before the date): " -- Jane <j@e> Sat, 21 Nov 2026 12:00:00 +0000"'],
    ['hello (1.0) trunk\n  * x\n -- Jane <j@e>  yesterday\n', 'hello/changelog:3: trailer date is not an RFC 5322 date: "yesterday"'],
    ['hello (1.0) trunk\n\n -- Jane <j@e>  Sat, 21 Nov 2026 12:00:00 +0000\n', 'hello/changelog:1: first entry lists no changes'],
    ['hello (1.0) trunk\n  * x\0\n', 'hello/changelog: NUL byte in change log'],
  ])('refuses %j', (text, message) => {
    expect(messageOf(text)).toBe(message);
  });
});
