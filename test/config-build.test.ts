/** The build settings of the farm configuration: Builder-Sandbox and the size limits, their defaults, inheritance and errors. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config.js';
import { formatErrorOf } from './support/errors.js';

const QUEUE = 'Queue: amd64\nArchitectures: amd64-linux-glibc all\n';

function messageOf(text: string): string {
  return formatErrorOf(() => parseConfig(text, 'opkfarm.conf')).message;
}

describe('build settings', () => {
  it('default to the sandbox when usable, a 64 MiB log and 4 GiB of output', () => {
    const { builder } = parseConfig(`Farm: test\n\n${QUEUE}`, 'opkfarm.conf');
    expect(builder).toMatchObject({ sandbox: 'auto', logLimitBytes: 64 * 2 ** 20, outputLimitBytes: 4 * 2 ** 30 });
  });

  it('read sizes in bytes or with a 1024-based suffix, and let a queue override the farm', () => {
    const config = parseConfig(
      'Farm: test\nBuilder-Sandbox: bwrap\nBuild-Log-Limit: 512k\nBuild-Output-Limit: 2G\n\n' +
        'Queue: a\nArchitectures: all\n\n' +
        'Queue: b\nArchitectures: amd64-linux-glibc\nBuilder-Sandbox: none\nBuild-Log-Limit: 100000\nBuild-Output-Limit: 1T\n',
      'opkfarm.conf',
    );
    expect(config.builder).toMatchObject({ sandbox: 'bwrap', logLimitBytes: 512 * 1024, outputLimitBytes: 2 * 2 ** 30 });
    expect(config.queues.map((queue) => queue.builder)).toEqual([
      { kind: 'builtin', timeoutSeconds: 3600, sandbox: 'bwrap', logLimitBytes: 512 * 1024, outputLimitBytes: 2 * 2 ** 30 },
      { kind: 'builtin', timeoutSeconds: 3600, sandbox: 'none', logLimitBytes: 100_000, outputLimitBytes: 2 ** 40 },
    ]);
  });

  it.each([
    ['a sandbox mode it does not know', 'Farm: test\nBuilder-Sandbox: yes\n\n' + QUEUE, 'opkfarm.conf:2: Builder-Sandbox must be auto, bwrap or none, not "yes"'],
    [
      'a bad mode in a queue',
      'Farm: test\n\nQueue: q\nArchitectures: all\nBuilder-Sandbox: firejail\n',
      'opkfarm.conf:5: Builder-Sandbox must be auto, bwrap or none, not "firejail"',
    ],
    [
      'a size with a unit it does not know',
      'Farm: test\nBuild-Log-Limit: 64MB\n\n' + QUEUE,
      'opkfarm.conf:2: Build-Log-Limit must be a size in bytes, optionally followed by K, M, G or T (1024-based), such as 64M; not "64MB"',
    ],
    [
      'a size of nothing',
      'Farm: test\nBuild-Output-Limit: 0\n\n' + QUEUE,
      'opkfarm.conf:2: Build-Output-Limit must be a size in bytes, optionally followed by K, M, G or T (1024-based), such as 64M; not "0"',
    ],
    [
      'a size too large to count',
      'Farm: test\nBuild-Output-Limit: 99999999999T\n\n' + QUEUE,
      'opkfarm.conf:2: Build-Output-Limit must be a size in bytes, optionally followed by K, M, G or T (1024-based), such as 64M; not "99999999999T"',
    ],
    ['an empty mode', 'Farm: test\nBuilder-Sandbox:\n\n' + QUEUE, 'opkfarm.conf:2: Builder-Sandbox is empty (leave the key out for the default)'],
  ])('refuse %s, naming the key and its line', (_what, text, message) => {
    expect(messageOf(text)).toBe(message);
  });
});
