/**
 * Architecture and platform names, matching, and the routing of uploads to
 * build queues (FORMATS.md, PIPELINE.md step 1).
 */
import { describe, expect, it } from 'vitest';

import {
  architectureListMatches,
  architectureMatches,
  architectureProblem,
  isConcreteArchitecture,
  isRealArchitecture,
  isWildcard,
  platformMatches,
  platformProblem,
  platformsToBuild,
  routeUpload,
} from '../../lib/formats/architecture.js';

describe('architectureProblem', () => {
  it.each([
    'all',
    'any',
    'src',
    'amd64-linux-glibc',
    'core-linux-eglibc',
    'i386-linux-musl',
    'arm64-linux-glibc',
    'any-linux-glibc',
    'any-linux-any',
    'amd64-any-any',
    'amd64-linux-any',
    'any-any-glibc',
    'any-any-any',
  ])('accepts %s', (name) => {
    expect(architectureProblem(name)).toBeUndefined();
  });

  it.each([
    ['', 'architecture is empty'],
    ['amd64', 'architecture "amd64" must be all, any, src or <cpu>-<kernel>-<libc>'],
    ['amd64-linux', 'architecture "amd64-linux" must be all, any, src or <cpu>-<kernel>-<libc>'],
    ['amd64-linux-glibc-x', 'architecture "amd64-linux-glibc-x" must be all, any, src or <cpu>-<kernel>-<libc>'],
    ['ALL', 'architecture "ALL" must be all, any, src or <cpu>-<kernel>-<libc>'],
    ['a--b', 'architecture "a--b" has an empty component'],
    ['-linux-glibc', 'architecture "-linux-glibc" has an empty component'],
    ['amd64-linux-', 'architecture "amd64-linux-" has an empty component'],
    [
      'AMD64-linux-glibc',
      'architecture "AMD64-linux-glibc" has a bad component "AMD64" (each must match [a-z0-9]+)',
    ],
    [
      'amd64-linux-gnu_x32',
      'architecture "amd64-linux-gnu_x32" has a bad component "gnu_x32" (each must match [a-z0-9]+)',
    ],
    [
      'amd64-linux-glibc ',
      'architecture "amd64-linux-glibc " has a bad component "glibc " (each must match [a-z0-9]+)',
    ],
    ['arm.v7-linux-glibc', 'architecture "arm.v7-linux-glibc" has a bad component "arm.v7" (each must match [a-z0-9]+)'],
  ])('rejects %j', (name, message) => {
    expect(architectureProblem(name)).toBe(message);
  });
});

describe('architecture kinds', () => {
  it.each([
    // name, real, wildcard, concrete
    ['amd64-linux-glibc', true, false, true],
    ['core-linux-eglibc', true, false, true],
    ['all', false, false, true],
    ['src', false, false, true],
    ['any', false, false, false],
    ['any-linux-glibc', false, true, false],
    ['amd64-any-any', false, true, false],
    ['any-linux-any', false, true, false],
    ['any-any-any', false, true, false],
    ['amd64', false, false, false],
    ['AMD64-linux-glibc', false, false, false],
    ['', false, false, false],
  ] as const)('%j: real %s, wildcard %s, concrete %s', (name, real, wildcard, concrete) => {
    expect(isRealArchitecture(name)).toBe(real);
    expect(isWildcard(name)).toBe(wildcard);
    expect(isConcreteArchitecture(name)).toBe(concrete);
  });
});

describe('architectureMatches', () => {
  it.each([
    // Special values.
    ['all', 'all', true],
    ['all', 'src', false],
    ['all', 'amd64-linux-glibc', false],
    ['src', 'src', true],
    ['src', 'all', false],
    ['src', 'amd64-linux-glibc', false],
    ['any', 'amd64-linux-glibc', true],
    ['any', 'core-linux-eglibc', true],
    ['any', 'all', false],
    ['any', 'src', false],
    ['any', 'any', false],
    // Real names match only themselves.
    ['amd64-linux-glibc', 'amd64-linux-glibc', true],
    ['amd64-linux-glibc', 'amd64-linux-musl', false],
    ['amd64-linux-glibc', 'i386-linux-glibc', false],
    ['amd64-linux-glibc', 'all', false],
    // One-any wildcards.
    ['any-linux-glibc', 'amd64-linux-glibc', true],
    ['any-linux-glibc', 'i386-linux-glibc', true],
    ['any-linux-glibc', 'core-linux-eglibc', false],
    ['any-linux-glibc', 'amd64-hurd-glibc', false],
    ['any-linux-glibc', 'all', false],
    ['any-linux-glibc', 'src', false],
    ['amd64-linux-any', 'amd64-linux-musl', true],
    ['amd64-linux-any', 'i386-linux-musl', false],
    ['amd64-any-glibc', 'amd64-kfreebsd-glibc', true],
    // Two-any wildcards.
    ['any-linux-any', 'amd64-linux-glibc', true],
    ['any-linux-any', 'core-linux-eglibc', true],
    ['any-linux-any', 'amd64-hurd-glibc', false],
    ['any-linux-any', 'all', false],
    ['amd64-any-any', 'amd64-linux-glibc', true],
    ['amd64-any-any', 'amd64-hurd-musl', true],
    ['amd64-any-any', 'i386-linux-glibc', false],
    ['any-any-eglibc', 'core-linux-eglibc', true],
    ['any-any-eglibc', 'core-linux-glibc', false],
    // any-any-any is a spelling of any.
    ['any-any-any', 'amd64-linux-glibc', true],
    ['any-any-any', 'all', false],
    ['any-any-any', 'src', false],
    // The second argument must be concrete: wildcards and any are never served.
    ['any', 'any-linux-glibc', false],
    ['any-linux-glibc', 'any-linux-glibc', false],
    ['any-any-any', 'any-any-any', false],
    // Invalid names match nothing.
    ['amd64', 'amd64', false],
    ['AMD64-linux-glibc', 'AMD64-linux-glibc', false],
    ['any', 'amd64-linux', false],
    ['any-linux', 'amd64-linux-glibc', false],
    ['', '', false],
  ] as const)('%s covers %s: %s', (pattern, architecture, expected) => {
    expect(architectureMatches(pattern, architecture)).toBe(expected);
  });
});

describe('architectureListMatches', () => {
  it.each([
    [['any', 'all'], 'all', true],
    [['any', 'all'], 'amd64-linux-glibc', true],
    [['any', 'all'], 'src', false],
    [['all'], 'amd64-linux-glibc', false],
    [['i386-linux-glibc', 'any-linux-musl'], 'amd64-linux-musl', true],
    [['i386-linux-glibc', 'any-linux-musl'], 'amd64-linux-glibc', false],
    [['src'], 'src', true],
    [[], 'amd64-linux-glibc', false],
  ] as const)('%j covers %s: %s', (patterns, architecture, expected) => {
    expect(architectureListMatches(patterns, architecture)).toBe(expected);
  });
});

describe('platformProblem', () => {
  it.each(['all', 'any', 'dev', 'pc', 'x86+pc', 'rpi-b', 'board.v2', '0'])('accepts %s', (name) => {
    expect(platformProblem(name)).toBeUndefined();
  });

  it.each([
    ['', 'platform is empty'],
    ['Dev', 'platform "Dev" must match [a-z0-9][a-z0-9.+-]*'],
    ['-dev', 'platform "-dev" must match [a-z0-9][a-z0-9.+-]*'],
    ['.dev', 'platform ".dev" must match [a-z0-9][a-z0-9.+-]*'],
    ['dev pc', 'platform "dev pc" must match [a-z0-9][a-z0-9.+-]*'],
    ['dev_1', 'platform "dev_1" must match [a-z0-9][a-z0-9.+-]*'],
  ])('rejects %j', (name, message) => {
    expect(platformProblem(name)).toBe(message);
  });
});

describe('platformMatches', () => {
  it.each([
    // all: platform independent, built by the one platform-independent build.
    [['all'], 'all', true],
    [['all'], 'dev', false],
    // any: every platform name, but not the platform-independent build.
    [['any'], 'dev', true],
    [['any'], 'pc', true],
    [['any'], 'all', false],
    // A list covers its names.
    [['dev'], 'dev', true],
    [['dev'], 'pc', false],
    [['dev'], 'all', false],
    [['dev', 'pc'], 'pc', true],
    [['dev', 'pc'], 'rpi', false],
    [['all', 'dev'], 'all', true],
    [['all', 'dev'], 'dev', true],
    [[], 'dev', false],
    // The host side is concrete: any or an invalid name is never a build.
    [['any'], 'any', false],
    [['Dev'], 'Dev', false],
  ] as const)('%j covers %s: %s', (platforms, host, expected) => {
    expect(platformMatches(platforms, host)).toBe(expected);
  });
});

describe('platformsToBuild', () => {
  it.each([
    // A platform-independent package is built once, however many platforms the host serves.
    [['all'], ['dev', 'pc'], ['all']],
    [['all'], [], ['all']],
    [['any'], ['pc', 'dev'], ['dev', 'pc']],
    [['any'], [], []],
    [['dev'], ['dev', 'pc'], ['dev']],
    [['rpi'], ['dev', 'pc'], []],
    [['all', 'pc'], ['dev', 'pc'], ['all', 'pc']],
    [['dev'], ['dev', 'dev'], ['dev']],
  ] as const)('%j on a host serving %j: %j', (platforms, hostPlatforms, expected) => {
    expect(platformsToBuild(platforms, hostPlatforms)).toEqual(expected);
  });
});

describe('routeUpload', () => {
  const served = { all: 'core', 'core-linux-eglibc': 'core', 'amd64-linux-glibc': 'amd64' };

  it.each([
    // all and core-linux-eglibc share one queue: the upload is linked into it once.
    [['any', 'all'], ['amd64', 'core'], []],
    [['all'], ['core'], []],
    [['any'], ['amd64', 'core'], []],
    [['any-linux-glibc'], ['amd64'], []],
    [['any-linux-eglibc'], ['core'], []],
    [['any-linux-any'], ['amd64', 'core'], []],
    [['any-any-any'], ['amd64', 'core'], []],
    [['amd64-linux-glibc'], ['amd64'], []],
    [['core-linux-eglibc', 'all'], ['core'], []],
    [['i386-linux-glibc'], [], ['i386-linux-glibc']],
    [['i386-linux-glibc', 'amd64-linux-glibc'], ['amd64'], ['i386-linux-glibc']],
    [['any-linux-musl', 'all'], ['core'], ['any-linux-musl']],
    [['i386-linux-glibc', 'i386-linux-glibc', 'arm-linux-glibc'], [], ['arm-linux-glibc', 'i386-linux-glibc']],
    // Source packages are not built: src is neither routed nor unserved.
    [['src'], [], []],
    [['src', 'all'], ['core'], []],
    [[], [], []],
    // An invalid name matches no queue, so the caller hears of it.
    [['amd64'], [], ['amd64']],
  ] as const)('%j goes to %j, unserved %j', (architectures, queues, unserved) => {
    expect(routeUpload(architectures, served)).toEqual({ queues, unserved });
  });

  it('accepts a Map', () => {
    const map = new Map([
      ['all', 'core'],
      ['amd64-linux-glibc', 'amd64'],
      ['i386-linux-glibc', 'amd64'],
    ]);
    expect(routeUpload(['any', 'all'], map)).toEqual({ queues: ['amd64', 'core'], unserved: [] });
    expect(routeUpload(['any-linux-glibc'], map)).toEqual({ queues: ['amd64'], unserved: [] });
  });

  it('reports all as unserved when no queue serves it', () => {
    expect(routeUpload(['any', 'all'], { 'amd64-linux-glibc': 'amd64' })).toEqual({
      queues: ['amd64'],
      unserved: ['all'],
    });
    expect(routeUpload(['any'], { all: 'core' })).toEqual({ queues: [], unserved: ['any'] });
  });

  it('routes src to a queue that serves src explicitly', () => {
    expect(routeUpload(['src'], { src: 'source', all: 'core' })).toEqual({ queues: ['source'], unserved: [] });
  });

  it.each([
    ['any', 'build queue "x" serves "any", which is not all, src or a real architecture'],
    ['any-linux-glibc', 'build queue "x" serves "any-linux-glibc", which is not all, src or a real architecture'],
    ['amd64', 'build queue "x" serves "amd64", which is not all, src or a real architecture'],
  ])('refuses a queue serving %j', (architecture, message) => {
    expect(() => routeUpload(['all'], { [architecture]: 'x' })).toThrow(new RangeError(message));
  });
});
