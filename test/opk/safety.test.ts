import { describe, expect, test } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import { EntryChecker, type EntryToCheck } from '../../lib/opk/safety.js';

const dir = (path: string): EntryToCheck => ({ path, type: 'directory' });
const file = (path: string): EntryToCheck => ({ path, type: 'file' });
const symlink = (path: string, linkTarget: string): EntryToCheck => ({ path, type: 'symlink', linkTarget });
const hardLink = (path: string, linkTarget: string): EntryToCheck => ({ path, type: 'link', linkTarget });

function checker(): EntryChecker {
  return new EntryChecker({ file: 'pkg.opk', member: 'data.tar.gz' });
}

/** Checks entries in order; returns the FormatError thrown, if any. */
function refusal(entries: readonly EntryToCheck[], finish = true): FormatError | undefined {
  const check = checker();
  try {
    for (const item of entries) check.check(item);
    if (finish) check.finish();
  } catch (error) {
    if (error instanceof FormatError) return error;
    throw error;
  }
  return undefined;
}

describe('EntryChecker', () => {
  test('normalises paths', () => {
    const check = checker();
    expect(['./', '.', './usr/', 'usr//bin/', './usr/./bin/hello'].map((path) => check.check(path.endsWith('hello') ? file(path) : dir(path)).path)).toEqual([
      '.',
      '.',
      'usr',
      'usr/bin',
      'usr/bin/hello',
    ]);
  });

  test('the root must be a directory', () => {
    expect(refusal([file('./')])?.message).toBe('pkg.opk: data.tar.gz: entry "./": the package root must be a directory');
  });

  test('accepts ordinary trees with relative, absolute and chained symlinks and hard links to files or symlinks', () => {
    expect(
      refusal([
        dir('./'),
        dir('./usr/'),
        dir('./usr/lib/'),
        file('./usr/lib/libfoo.so.1.2'),
        symlink('./usr/lib/libfoo.so.1', 'libfoo.so.1.2'),
        symlink('./usr/lib/libfoo.so', 'libfoo.so.1'),
        symlink('./usr/lib/abs', '/usr/lib/libfoo.so'),
        symlink('./usr/lib/up', '../../usr/lib/./libfoo.so'),
        hardLink('./usr/lib/copy', './usr/lib/libfoo.so.1.2'),
        hardLink('./usr/lib/copy-of-link', 'usr/lib/libfoo.so'),
        symlink('./usr/lib/loop-a', 'loop-b'),
        symlink('./usr/lib/loop-b', 'loop-a'),
      ]),
    ).toBeUndefined();
  });

  test('follows symlinks met while resolving a target', () => {
    // x/y/b resolves to the root, so x/y/b/.. leaves it, though "x/y/b/.." alone looks like x/y.
    const error = refusal([dir('x/'), dir('x/y/'), symlink('x/y/b', '../..'), symlink('l', 'x/y/b/..')]);
    expect(error?.message).toBe('pkg.opk: data.tar.gz: entry "l": symlink to "x/y/b/.." escapes the package root');
  });

  test('finish() catches escapes through symlinks that came later', () => {
    const entries = [dir('x/'), dir('x/y/'), symlink('l', 'x/y/b/..'), symlink('x/y/b', '../..')];
    expect(refusal(entries, false)).toBeUndefined();
    const error = refusal(entries);
    expect(error?.code).toBe('opk.unsafe-entry');
    expect(error?.message).toBe('pkg.opk: data.tar.gz: entry "l": symlink to "x/y/b/.." escapes the package root');
  });

  test('an absolute target resolves from the install root', () => {
    expect(refusal([symlink('./a', '/../etc')])?.message).toBe(
      'pkg.opk: data.tar.gz: entry "./a": symlink to "/../etc" escapes the package root',
    );
  });

  test('refuses replacing a symlink, even by a directory', () => {
    expect(refusal([symlink('./etc', '/etc'), dir('./etc/')])?.message).toBe(
      'pkg.opk: data.tar.gz: entry "./etc/": replaces a symlink defined earlier',
    );
  });

  test('refuses hard links to directories and empty symlink targets', () => {
    expect(refusal([dir('./d/'), hardLink('./h', './d')])?.message).toBe(
      'pkg.opk: data.tar.gz: entry "./h": hard link to "./d", which is not an earlier file in the archive',
    );
    expect(refusal([symlink('./s', '')])?.message).toBe('pkg.opk: data.tar.gz: entry "./s": symlink with an empty target');
  });

  test('refuses unknown entry types by their type flag', () => {
    expect(refusal([{ path: './sparse', type: 'other', typeflag: 'S' }])?.message).toBe(
      'pkg.opk: data.tar.gz: entry "./sparse": unsupported entry type "S"',
    );
  });

  test('messages without a member', () => {
    const check = new EntryChecker({ file: '/srv/tree' });
    expect(() => check.check(file('/abs'))).toThrow(new FormatError('opk.unsafe-entry', '/srv/tree', 'entry "/abs": absolute path'));
  });
});
