/**
 * Versions compared as dpkg compares them. The comparison table is also run
 * through `dpkg --compare-versions` when dpkg is installed, so the table
 * itself is checked against the reference implementation.
 */
import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { compareVersions, parseVersion, versionForFileName, versionProblem } from '../../lib/formats/version.js';

type Relation = '<' | '=' | '>';

/** [a, relation, b]: `a relation b` holds. */
const TABLE: ReadonlyArray<readonly [string, Relation, string]> = [
  // Plain numbers and dots.
  ['1.0', '=', '1.0'],
  ['1.0', '<', '1.1'],
  ['1.2.3', '<', '1.10'],
  ['1.9', '<', '1.10'],
  ['2.0', '>', '1.99'],
  ['10', '>', '9'],
  ['1', '<', '1.0'],
  ['1.0.0', '>', '1.0'],
  ['1.0', '<', '1.0.1'],
  // Leading zeros do not count.
  ['1.001', '=', '1.1'],
  ['1.01', '=', '1.1'],
  ['1.0', '=', '1.00'],
  ['01', '=', '1'],
  ['000001.0', '=', '1.0'],
  ['0', '=', '00'],
  // A trailing separator followed by nothing equals one followed by zero.
  ['1.0.', '=', '1.0.0'],
  ['1.0.', '>', '1.0'],
  // Digit runs are compared digit-wise, beyond 2^53 and 2^64.
  ['1.99999999999999999999', '<', '1.100000000000000000000'],
  ['1.9007199254740993', '>', '1.9007199254740992'],
  ['1.18446744073709551616', '>', '1.18446744073709551615'],
  ['1.000000000000000000001', '=', '1.1'],
  // ~ sorts before everything, even the end.
  ['1.0~rc1', '<', '1.0'],
  ['1.0~~', '<', '1.0~'],
  ['1.0~', '<', '1.0'],
  ['1.0~~', '<', '1.0~~a'],
  ['1.0~~a', '<', '1.0~'],
  ['1.0~', '<', '1.0~a'],
  ['1.0~a', '<', '1.0'],
  ['1.0~rc1', '<', '1.0~rc2'],
  ['1.0~rc10', '>', '1.0~rc9'],
  ['1.0~beta', '<', '1.0~rc'],
  ['1.0~+', '>', '1.0~'],
  ['1.0+~', '<', '1.0+'],
  ['0~', '<', '0'],
  ['1.0~1', '<', '1.0a'],
  // Letters sort before symbols and after the end; upper case before lower case.
  ['1.0', '<', '1.0+'],
  ['1.0a', '<', '1.0+'],
  ['1.0a', '>', '1.0'],
  ['1.0z', '<', '1.0+'],
  ['1.0a', '<', '1.0b'],
  ['1.0A', '<', '1.0a'],
  ['1.0Z', '<', '1.0a'],
  ['1a', '<', '1b'],
  ['1a1', '<', '1a2'],
  ['1.a', '>', '1.9'],
  ['1.2a', '<', '1.2.a'],
  ['1.0+dfsg', '>', '1.0'],
  ['1.0+dfsg', '<', '1.0.1'],
  // Symbols by ASCII: + before - before . before :
  ['1.0+1', '<', '1.0-1-0'],
  ['1.0-1-1', '<', '1.0.1'],
  ['1.0+1', '<', '1.0.1'],
  ['1:2:3', '>', '1:2.3'],
  ['1:2-3-1', '<', '1:2.3'],
  // Epochs come first.
  ['1:0.1', '>', '9.9'],
  ['0:1.0', '=', '1.0'],
  ['2:1.0', '>', '1:9.9'],
  ['10:1', '>', '9:1'],
  ['01:1.0', '=', '1:1.0'],
  ['0:0', '=', '0'],
  ['2147483647:1', '>', '2147483646:9'],
  ['1:1.0~', '>', '0:2.0'],
  // Colons in upstream (allowed after an epoch).
  ['1:2:3', '<', '1:2:4'],
  ['1:2:3-1', '>', '1:2:3'],
  // A missing revision equals revision 0.
  ['1.0', '=', '1.0-0'],
  ['1.0', '=', '1.0-00'],
  ['0:0', '=', '0-0'],
  ['1.0', '<', '1.0-0.0'],
  ['1.0', '<', '1.0-1'],
  ['1.0-~', '<', '1.0'],
  // Revisions.
  ['1.0-1', '<', '1.0-2'],
  ['1.0-10', '>', '1.0-9'],
  ['1.0-1', '<', '1.0-1.1'],
  ['1.0-1~bpo1', '<', '1.0-1'],
  ['1.0-1~', '<', '1.0-1'],
  ['1.0-0.1', '>', '1.0'],
  ['1.0-a', '>', '1.0-1'],
  ['1.2.3-4', '<', '1.2.3-4+b1'],
  ['1.0-1ubuntu1', '>', '1.0-1'],
  ['1.0-1ubuntu1', '<', '1.0-1.1'],
  ['1.0-1a', '<', '1.0-1+'],
  // The revision is after the last hyphen; upstream is compared first.
  ['1.0-1-1', '>', '1.0-1'],
  ['1.0-1-1', '>', '1.0-2'],
  ['1.0-1-1', '=', '1.0-1-1'],
  ['1-1', '<', '1-1-1'],
];

/** Ascending, no two equal: every earlier element sorts before every later one. */
const SORTED = [
  '0~',
  '0',
  '0-1',
  '0.1',
  '1~~',
  '1~~a',
  '1~',
  '1~a',
  '1',
  '1-0.0',
  '1-1',
  '1-1.1',
  '1A',
  '1a',
  '1+',
  '1-1-1',
  '1.0~rc1',
  '1.0',
  '1.0-1~',
  '1.0-1',
  '1.0.1',
  '1.1',
  '1.10',
  '1.99999999999999999999',
  '1.100000000000000000000',
  '2',
  '1:0',
  '1:1:1',
  '2:0~',
];

const relationOf = (comparison: number): Relation => (comparison < 0 ? '<' : comparison > 0 ? '>' : '=');
const inverse: Record<Relation, Relation> = { '<': '>', '=': '=', '>': '<' };
const dpkgOperator: Record<Relation, string> = { '<': 'lt', '=': 'eq', '>': 'gt' };

const hasDpkg = spawnSync('dpkg', ['--version'], { stdio: 'ignore' }).status === 0;

describe('compareVersions', () => {
  it('has a table of at least 60 pairs', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(60);
  });

  it.each(TABLE)('%s %s %s', (a, relation, b) => {
    expect(relationOf(compareVersions(a, b))).toBe(relation);
    expect(relationOf(compareVersions(b, a))).toBe(inverse[relation]);
  });

  it('accepts parsed versions as well as strings', () => {
    expect(compareVersions(parseVersion('1:1.0-1'), '1:1.0-2')).toBeLessThan(0);
    expect(compareVersions('2.0', parseVersion('1.0'))).toBeGreaterThan(0);
    expect(compareVersions(parseVersion('1.0'), parseVersion('1.0-0'))).toBe(0);
  });

  it('returns -1, 0 or 1', () => {
    for (const [a, , b] of TABLE) expect([-1, 0, 1]).toContain(compareVersions(a, b));
  });

  it('throws on an invalid version', () => {
    expect(() => compareVersions('1.0', 'a:1')).toThrow(RangeError);
  });

  it.skipIf(!hasDpkg)(
    `agrees with dpkg --compare-versions on every pair of the table${hasDpkg ? '' : ' (skipped: dpkg is not installed)'}`,
    () => {
      const disagreements: string[] = [];
      for (const [a, relation, b] of TABLE) {
        const result = spawnSync('dpkg', ['--compare-versions', a, dpkgOperator[relation], b], { encoding: 'utf8' });
        // dpkg warns (and still answers) about versions it considers bad; the table holds only valid ones.
        if (result.status !== 0 || result.stderr !== '') {
          disagreements.push(`${a} ${relation} ${b}: exit ${result.status}, ${result.stderr.trim()}`);
        }
      }
      expect(disagreements).toEqual([]);
    },
  );

  it.skipIf(!hasDpkg)(
    `agrees with dpkg --compare-versions on the sorted list${hasDpkg ? '' : ' (skipped: dpkg is not installed)'}`,
    () => {
      const disagreements: string[] = [];
      for (let i = 1; i < SORTED.length; i++) {
        const [a, b] = [SORTED[i - 1] as string, SORTED[i] as string];
        if (spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status !== 0) disagreements.push(`${a} < ${b}`);
      }
      expect(disagreements).toEqual([]);
    },
  );
});

describe('sort consistency', () => {
  it('orders every pair of the sorted list, antisymmetrically', () => {
    SORTED.forEach((a, i) => {
      expect(compareVersions(a, a)).toBe(0);
      SORTED.forEach((b, j) => {
        expect(relationOf(compareVersions(a, b)), `${a} vs ${b}`).toBe(relationOf(i - j));
      });
    });
  });

  it('sorts shuffled copies back into order', () => {
    const rotations = [SORTED.slice().reverse(), [...SORTED.slice(7), ...SORTED.slice(0, 7)]];
    // A fixed, deterministic shuffle: odd positions first, then even ones.
    rotations.push([...SORTED.filter((_, i) => i % 2 === 1), ...SORTED.filter((_, i) => i % 2 === 0)]);
    for (const shuffled of rotations) expect(shuffled.sort(compareVersions)).toEqual(SORTED);
  });

  it('treats equal spellings as equal whatever the order', () => {
    const equal = ['1.0', '1.00', '01.0', '0:1.0', '1.0-0', '00:001.000-000'];
    for (const a of equal) for (const b of equal) expect(compareVersions(a, b), `${a} vs ${b}`).toBe(0);
  });
});

describe('parseVersion', () => {
  it.each([
    ['1.0', { epoch: 0, upstream: '1.0', revision: '' }],
    ['1.0-1', { epoch: 0, upstream: '1.0', revision: '1' }],
    ['1:2.0-1', { epoch: 1, upstream: '2.0', revision: '1' }],
    ['0:1.0', { epoch: 0, upstream: '1.0', revision: '' }],
    ['1.0-1-1', { epoch: 0, upstream: '1.0-1', revision: '1' }],
    ['2:1.0~rc1+dfsg-0ubuntu1~bpo1', { epoch: 2, upstream: '1.0~rc1+dfsg', revision: '0ubuntu1~bpo1' }],
    ['1:2:3-4', { epoch: 1, upstream: '2:3', revision: '4' }],
    ['1:2:3', { epoch: 1, upstream: '2:3', revision: '' }],
    ['007:1', { epoch: 7, upstream: '1', revision: '' }],
    ['2147483647:1', { epoch: 2147483647, upstream: '1', revision: '' }],
    ['1.0-~', { epoch: 0, upstream: '1.0', revision: '~' }],
    ['1.0-a', { epoch: 0, upstream: '1.0', revision: 'a' }],
  ])('parses %s', (text, expected) => {
    expect(parseVersion(text)).toEqual(expected);
    expect(versionProblem(text)).toBeUndefined();
  });

  it.each([
    ['', 'version is empty'],
    [`1.${'0'.repeat(63)}`, 'version is longer than 64 characters'],
    [' ', 'version has embedded spaces'],
    ['1.0 1', 'version has embedded spaces'],
    ['1.0\t1', 'version has embedded spaces'],
    // dpkg trims these; opkfarm takes versions from already-trimmed fields and refuses them.
    [' 1.0', 'version has embedded spaces'],
    ['1.0\n', 'version has embedded spaces'],
    [':1.0', 'epoch in version is empty'],
    ['a:1.0', 'epoch in version is not a number'],
    ['1a:1.0', 'epoch in version is not a number'],
    ['+1:1.0', 'epoch in version is not a number'],
    ['-1:1.0', 'epoch in version is not a number'],
    // Without an epoch, the first colon still ends the epoch: upstream cannot hold a colon.
    ['1.0:2', 'epoch in version is not a number'],
    ['1.0-1:2', 'epoch in version is not a number'],
    ['2147483648:1', 'epoch in version is too big'],
    ['99999999999999999999:1', 'epoch in version is too big'],
    ['1:', 'upstream version is empty'],
    ['-1', 'upstream version is empty'],
    ['1:-1', 'upstream version is empty'],
    ['1.0-', 'revision in version is empty'],
    ['1:1.0-', 'revision in version is empty'],
    ['a1.0', 'upstream version does not start with a digit'],
    ['~1', 'upstream version does not start with a digit'],
    ['.1', 'upstream version does not start with a digit'],
    ['1:a1.0', 'upstream version does not start with a digit'],
    ['1.0_1', 'invalid character in upstream version'],
    ['1.0/1', 'invalid character in upstream version'],
    ['1.0é', 'invalid character in upstream version'],
    ['1.0-1_2', 'invalid character in revision'],
    ['1.0!', 'invalid character in upstream version'],
    ['1:1.0-1:2', 'invalid character in revision'],
    ['1.0-1/2', 'invalid character in revision'],
  ])('rejects %j: %s', (text, message) => {
    expect(versionProblem(text)).toBe(message);
    expect(() => parseVersion(text)).toThrow(new RangeError(`${message}: ${JSON.stringify(text)}`));
  });
});

describe('versionForFileName', () => {
  it.each([
    ['1:2.0-1', '2.0-1'],
    ['0:1.0', '1.0'],
    ['1.0-1', '1.0-1'],
    ['1.0', '1.0'],
    ['1:2:3-4', '2:3-4'],
    ['12:1.0~rc1', '1.0~rc1'],
  ])('%s is written %s', (text, expected) => {
    expect(versionForFileName(text)).toBe(expected);
  });
});
