/** Build results: the names of builds, and the fields buildd writes. */
import { describe, expect, it } from 'vitest';

import { parseBuildName, parseBuildResult } from '../../lib/archive/build-result.js';
import { FormatError } from '../../lib/errors.js';

describe('parseBuildName', () => {
  it('reads <arch>_<plat> for concrete architectures and platforms only', () => {
    expect(parseBuildName('amd64-linux-glibc_all')).toEqual({ architecture: 'amd64-linux-glibc', platform: 'all' });
    expect(parseBuildName('all_dev')).toEqual({ architecture: 'all', platform: 'dev' });
    for (const stem of ['any_all', 'src_all', 'any-linux-glibc_all', 'amd64-linux-glibc_any', 'amd64-linux-glibc', 'a_b_c', 'all_']) {
      expect(parseBuildName(stem), stem).toBeUndefined();
    }
  });
});

describe('parseBuildResult', () => {
  const build = { architecture: 'amd64-linux-glibc', platform: 'all' };

  it('reads every field', () => {
    const text = [
      'Status: ok',
      'Architecture: amd64-linux-glibc',
      'Platform: all',
      'Host: builder1',
      'Started: 2024-05-01T10:00:00Z',
      'Finished: 2024-05-01T10:01:00Z',
      'Duration: 60',
      'Binaries: a_1_amd64-linux-glibc_all.opk b_1_amd64-linux-glibc_all.opk',
      '',
    ].join('\n');
    expect(parseBuildResult(text, 'x.result', build)).toEqual({
      ...build,
      status: 'ok',
      host: 'builder1',
      started: '2024-05-01T10:00:00Z',
      finished: '2024-05-01T10:01:00Z',
      duration: 60,
      binaries: ['a_1_amd64-linux-glibc_all.opk', 'b_1_amd64-linux-glibc_all.opk'],
      error: undefined,
    });
  });

  it('reads a failed build with no binaries', () => {
    const result = parseBuildResult('Status: failed\nBinaries:\nError: make failed\n', 'x.result', build);
    expect(result).toMatchObject({ status: 'failed', binaries: [], error: 'make failed' });
  });

  it('refuses a bad status and a result that speaks for another build', () => {
    expect(() => parseBuildResult('Status: maybe\n', 'x.result', build)).toThrow('x.result:1: Status "maybe" is neither "ok" nor "failed"');
    expect(() => parseBuildResult('Binaries:\n', 'x.result', build)).toThrow(FormatError);
    expect(() => parseBuildResult('Status: ok\nArchitecture: all\n', 'x.result', build)).toThrow(
      'x.result:2: Architecture "all" does not match the file name, which says "amd64-linux-glibc"',
    );
  });
});
