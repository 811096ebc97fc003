/**
 * Source and binary package names (FORMATS.md: `[a-z0-9][a-z0-9+.-]+`, the
 * `src-` prefix reserved for a source package's own opk).
 */
import { describe, expect, it } from 'vitest';

import { packageNameProblem, sourceNameProblem, sourcePackageName } from '../../lib/formats/names.js';

const RULE = 'must match [a-z0-9][a-z0-9+.-]+';

describe('packageNameProblem', () => {
  it.each(['ab', 'opkg', 'libc6', 'g++', 'libstdc++6', 'python3.11', 'linux-libre', '0ad', '9p', 'a.b+c-d', 'src-hello'])(
    'accepts %s',
    (name) => {
      expect(packageNameProblem(name)).toBeUndefined();
    },
  );

  it.each([
    '',
    'a',
    'Opkg',
    'OPKG',
    '-foo',
    '+foo',
    '.foo',
    'foo_bar',
    'foo bar',
    ' foo',
    'foo\n',
    'foo/bar',
    'foo:bar',
    'föo',
  ])('rejects %j', (name) => {
    expect(packageNameProblem(name)).toBe(`package name ${JSON.stringify(name)} ${RULE}`);
  });
});

describe('package name length', () => {
  it('accepts 100 characters and refuses more: names make file names that must fit NAME_MAX with their prefixes', () => {
    expect(packageNameProblem('a'.repeat(100))).toBeUndefined();
    expect(packageNameProblem('a'.repeat(101))).toBe(`package name "${'a'.repeat(40)}…" is longer than 100 characters`);
  });
});

describe('sourceNameProblem', () => {
  it.each(['hello', 'opkg', 'libc', 'src', 'srcfoo', 'foo-src-bar'])('accepts %s', (name) => {
    expect(sourceNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['src-hello', 'source name "src-hello" uses the reserved prefix "src-"'],
    ['src-', 'source name "src-" uses the reserved prefix "src-"'],
    ['Hello', `package name "Hello" ${RULE}`],
    ['h', `package name "h" ${RULE}`],
    ['', `package name "" ${RULE}`],
  ])('rejects %j', (name, message) => {
    expect(sourceNameProblem(name)).toBe(message);
  });
});

describe('sourcePackageName', () => {
  it('prefixes src-, giving a valid binary package name that is not a valid source name', () => {
    const name = sourcePackageName('hello');
    expect(name).toBe('src-hello');
    expect(packageNameProblem(name)).toBeUndefined();
    expect(sourceNameProblem(name)).toBeDefined();
  });
});
