/**
 * `opkfarm archive verify` and `opkfarm archive reindex` as a user runs
 * them: the compiled CLI in its own process, judged by exit status and its
 * one-line messages. The archive is made in-process by inclusion.
 */
import { truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { includeEntry } from '../../lib/archive/include.js';
import type { QueueLayout } from '../../lib/layout.js';
import { makeEntry, queueRoot } from '../archive/fixtures.js';
import { farmConfig } from '../support/farm.js';
import { runProgram } from '../support/programs.js';

const HELLO = 'pool/h/hello/hello_1.0-1_amd64-linux-glibc_all.opk';

async function archive(): Promise<QueueLayout> {
  const layout = await queueRoot();
  await writeFile(layout.configFile, farmConfig({ queues: [{ name: 'q', architectures: ['all'] }] }));
  const key = await makeEntry(layout, {
    sequence: 1,
    source: 'hello',
    version: '1.0-1',
    builds: [{ architecture: 'amd64-linux-glibc', packages: [{ package: 'hello' }] }],
  });
  await includeEntry(layout, key);
  return layout;
}

async function opkfarm(...args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await runProgram('opkfarm', args, { env: { OPKFARM_ROOT: '' }, stripFinalNewline: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('opkfarm archive verify', () => {
  it('exits 0 on a clean archive with a summary, 1 with one line per problem, and --json gives the report', async () => {
    const layout = await archive();
    expect(await opkfarm('archive', 'verify', '--root', layout.root)).toEqual({
      exitCode: 0,
      stdout: 'verify: no problems (2 feeds, 2 stanzas, 2 pool files checked)\n',
      stderr: '',
    });

    await truncate(join(layout.archive, HELLO), 100);
    const damaged = await opkfarm('archive', 'verify', '--root', layout.root);
    expect(damaged.exitCode).toBe(1);
    const lines = damaged.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${HELLO}: outer archive: truncated: gzip data ends early (unexpected end of file)`);
    expect(lines[1]).toMatch(/^feeds\/dev\/trunk\/amd64-linux-glibc\/all\/misc\/Packages: hello: Size "\d+" but pool\/\S+ has 100 bytes$/);
    expect(lines.at(-1)).toBe('verify: 4 problems (2 feeds, 2 stanzas, 2 pool files checked)');

    const json = await opkfarm('archive', 'verify', '--root', layout.root, '--json');
    expect(json.exitCode).toBe(1);
    const report = JSON.parse(json.stdout) as { problems: Array<{ file: string; problem: string }> };
    expect(report.problems).toHaveLength(4);
    expect(report.problems[0]).toEqual({ file: HELLO, problem: 'outer archive: truncated: gzip data ends early (unexpected end of file)' });
  });

  it('exits 69 naming the root when there is no queue root', async () => {
    const root = join(await queueRoot().then((layout) => layout.root), 'absent');
    const result = await opkfarm('archive', 'verify', '--root', root);
    expect(result.exitCode).toBe(69);
    expect(result.stderr).toMatch(new RegExp(`^opkfarm: ${root} is not a queue root .*\\n$`));
  });
});

describe('opkfarm archive reindex', () => {
  it('exits 0 with a summary (no progress line off a terminal), 1 naming each pool file left out', async () => {
    const layout = await archive();
    expect(await opkfarm('archive', 'reindex', '--root', layout.root)).toEqual({
      exitCode: 0,
      stdout: 'reindex: 2 pool files read, 2 packages indexed in 2 feeds (0 written, 2 unchanged)\n',
      stderr: '',
    });

    await unlink(join(layout.archive, 'pool/h/hello/src-hello_1.0-1_src_all.opk'));
    expect(await opkfarm('archive', 'reindex', '--root', layout.root)).toEqual({
      exitCode: 1,
      stdout:
        `${HELLO}: an orphan: no source package src-hello 1.0-1 with a change log in the pool; not indexed\n` +
        'reindex: 1 pool file read, 0 packages indexed in 2 feeds (2 written, 0 unchanged); 1 pool file left out\n',
      stderr: '',
    });
  });
});
