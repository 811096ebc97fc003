/**
 * planUpload: what is skipped, resumed or sent whole, from what the
 * destination holds and what the .upload log says was sent there; and
 * parseLongListing, which reads the sizes out of sftp's `ls -ln`.
 */
import { describe, expect, it } from 'vitest';
import type { UploadFile } from '../../lib/upload/local-check.js';
import { planUpload } from '../../lib/upload/plan.js';
import { parseLongListing } from '../../lib/upload/sftp-transport.js';
import type { UploadLogEntry } from '../../lib/upload/upload-log.js';

const DESTINATION = 'sftp://farm.example.org/incoming';
const OPK: UploadFile = { name: 'hello_1.0-1_src.opk', path: '/up/hello_1.0-1_src.opk', size: 1000, sha256: 'a'.repeat(64) };
const CHANGES: UploadFile = { name: 'hello_1.0-1.changes', path: '/up/hello_1.0-1.changes', size: 600, sha256: 'b'.repeat(64) };
const FILES = [OPK, CHANGES];

function sending(file: UploadFile, overrides: Partial<UploadLogEntry> = {}): UploadLogEntry {
  return { time: '2026-11-21T12:00:00.000Z', event: 'sending', destination: DESTINATION, name: file.name, size: file.size, sha256: file.sha256, ...overrides };
}

const plan = (remote: Record<string, number>, log: UploadLogEntry[], force = false) =>
  planUpload(FILES, new Map(Object.entries(remote)), log, { destination: DESTINATION, force });

const kinds = (result: ReturnType<typeof plan>) =>
  result.actions.map((action) => (action.kind === 'skip' ? `skip ${action.file.name}` : `send ${action.file.name} from ${action.offset}`));

describe('planUpload', () => {
  it('sends everything whole to an empty destination, the .changes last', () => {
    expect(kinds(plan({}, []))).toEqual(['send hello_1.0-1_src.opk from 0', 'send hello_1.0-1.changes from 0']);
  });

  it('skips a file of full size that the log says it sent there, and resumes a partial one of its own', () => {
    expect(kinds(plan({ 'hello_1.0-1_src.opk': 1000 }, [sending(OPK)]))).toEqual(['skip hello_1.0-1_src.opk', 'send hello_1.0-1.changes from 0']);
    expect(kinds(plan({ '.tmp-upload-hello_1.0-1_src.opk': 400 }, [sending(OPK)]))).toEqual([
      'send hello_1.0-1_src.opk from 400',
      'send hello_1.0-1.changes from 0',
    ]);
    // Complete under its temporary name: only the rename is left.
    expect(kinds(plan({ '.tmp-upload-hello_1.0-1_src.opk': 1000 }, [sending(OPK)]))[0]).toBe('send hello_1.0-1_src.opk from 1000');
  });

  it('trusts nothing the log does not vouch for: another file, another destination, a longer partial file', () => {
    const remote = { 'hello_1.0-1_src.opk': 1000, '.tmp-upload-hello_1.0-1.changes': 300 };
    expect(kinds(plan(remote, []))).toEqual(['send hello_1.0-1_src.opk from 0', 'send hello_1.0-1.changes from 0']);
    expect(kinds(plan(remote, [sending(OPK, { sha256: 'c'.repeat(64) }), sending(CHANGES, { sha256: 'c'.repeat(64) })]))).toEqual([
      'send hello_1.0-1_src.opk from 0',
      'send hello_1.0-1.changes from 0',
    ]);
    expect(kinds(plan(remote, [sending(OPK, { destination: 'sftp://other/incoming' })]))[0]).toBe('send hello_1.0-1_src.opk from 0');
    expect(kinds(plan({ '.tmp-upload-hello_1.0-1_src.opk': 1001 }, [sending(OPK)]))[0]).toBe('send hello_1.0-1_src.opk from 0');
  });

  it('sends everything whole when forced', () => {
    expect(kinds(plan({ 'hello_1.0-1_src.opk': 1000, '.tmp-upload-hello_1.0-1.changes': 300 }, [sending(OPK), sending(CHANGES)], true))).toEqual([
      'send hello_1.0-1_src.opk from 0',
      'send hello_1.0-1.changes from 0',
    ]);
  });

  it('removes an older .changes there before replacing the files it lists', () => {
    expect(plan({ 'hello_1.0-1.changes': 590 }, []).staleChanges).toBe('hello_1.0-1.changes');
    expect(plan({ 'hello_1.0-1.changes': 600 }, [sending(CHANGES)]).staleChanges).toBeUndefined();
  });
});

describe('parseLongListing', () => {
  it('reads the regular files of `ls -lan` and nothing else', () => {
    const output = [
      'sftp> cd /incoming',
      'sftp> ls -lan',
      'drwxrwx---    ? 1000     1001         4096 Nov 21 15:00 .',
      'drwxr-xr-x    ? 0        0            4096 Nov 21 15:00 ..',
      '-rw-r--r--    ? 1001     1001       524288 Nov 21 15:00 .tmp-upload-hello_1.0-1_src.opk',
      '-rw-r--r--    ? 1001     1001          612 Nov 21  2025 libgreet_0.9~rc1-1.changes',
      'lrwxrwxrwx    ? 1001     1001           11 Nov 21 15:00 link',
      'prw-r--r--    ? 1001     1001            0 Nov 21 15:00 fifo',
      '',
    ].join('\n');
    expect(parseLongListing(output)).toEqual(
      new Map([
        ['.tmp-upload-hello_1.0-1_src.opk', 524288],
        ['libgreet_0.9~rc1-1.changes', 612],
      ]),
    );
  });
});
