/**
 * archived as a process meets an entry it cannot include (its .changes is
 * broken): it logs it, includes the others, and exits 0 with --once instead
 * of failing on the same entry forever.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeEntry, queueRoot } from '../archive/fixtures.js';
import { runProgram } from '../support/programs.js';
import { indexedNames, removeScratch } from '../support/farm.js';

let root: string | undefined;

afterEach(async () => {
  await removeScratch(root);
});

describe('archived', () => {
  it('sets aside an entry with a broken .changes and includes the rest', async () => {
    const layout = await queueRoot();
    root = layout.root;
    await writeFile(layout.configFile, 'Farm: test\n\nQueue: indep\nArchitectures: all\n');
    const broken = await makeEntry(layout, { sequence: 1, source: 'broken', version: '1.0', builds: [{ architecture: 'all', packages: [{ package: 'broken' }] }] });
    await makeEntry(layout, { sequence: 2, source: 'good', version: '1.0', builds: [{ architecture: 'all', packages: [{ package: 'good' }] }] });
    await writeFile(join(layout.archiveQueueEntry(broken), `${broken}.changes`), 'not a .changes\n');

    const run = await runProgram('archived', ['--root', layout.root, '--once']);
    expect(run.exitCode).toBe(0);
    expect(String(run.stderr)).toMatch(new RegExp(`event=inclusion-failed key=${broken} code=archive\\.bad-entry`));
    expect(String(run.stderr)).toMatch(/event=installed key=0000000002_good_1\.0/);
    expect(await indexedNames(layout.root)).toEqual(['good', 'src-good']);
    expect(await readdir(layout.archiveQueue)).toEqual([broken]);
  });
});
