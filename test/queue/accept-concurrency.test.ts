/**
 * Several buildq runs at once (two reviewers, or a script accepting in
 * parallel): each first recovers half-done accepts, then accepts its upload.
 * Recovery must never take another run's accept in progress for a crashed
 * one, so every accept succeeds and nothing is left behind.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acceptUpload, recoverAccepts } from '../../lib/queue/accept.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { initFarmInProcess, namesIn, removeScratch, scratchDirectory } from '../support/farm.js';
import { writeSourcePackage } from '../support/sources.js';

let scratch: string | undefined;

beforeEach(async () => {
  scratch = await scratchDirectory('accept-concurrency');
});

afterEach(async () => {
  await removeScratch(scratch);
  scratch = undefined;
});

describe('concurrent accepts', () => {
  it('all succeed while each run also recovers', async () => {
    const { layout, config } = await initFarmInProcess(join(scratch as string, 'root'), {
      queues: [{ name: 'indep', architectures: ['all'] }],
    });
    const names = Array.from({ length: 8 }, (_, index) => `pkg${index}`);
    for (const name of names) {
      const directory = await writeSourcePackage(join(scratch as string, 'sources'), {
        name,
        version: '1.0',
        binaries: [{ name, architecture: 'all' }],
      });
      await buildSourcePackage(directory, { outputDirectory: layout.incoming });
    }

    // Another reviewer runs buildq list over and over (each run recovers) while the accepts run.
    let accepting = true;
    let recoveries = 0;
    const otherReviewer = (async () => {
      while (accepting) {
        await recoverAccepts(layout, config);
        recoveries += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    // What each buildq accept run does: recover, then accept.
    const outcomes = await Promise.allSettled(
      names.map(async (name) => {
        await recoverAccepts(layout, config);
        return acceptUpload(layout, config, join(layout.incoming, `${name}_1.0.changes`), `accepting ${name}`);
      }),
    );
    accepting = false;
    await otherReviewer;
    expect(recoveries).toBeGreaterThan(0);
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String(outcome.reason)] : []));
    expect(failures).toEqual([]);
    const keys = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value.key] : []));
    expect(keys.map((key) => key.slice(0, 10)).sort()).toEqual(names.map((_, index) => String(index + 1).padStart(10, '0')));

    expect(await namesIn(layout.master)).toEqual(keys.flatMap((key) => [`${key}.changes`, `${key}.opk`]).sort());
    expect(await namesIn(layout.buildQueue('indep'))).toEqual([...keys.map((key) => `${key}.opk`), 'claims'].sort());
    for (const key of keys) expect((await lstat(layout.masterEntry(key))).nlink).toBe(2);
    expect(await namesIn(layout.incoming)).toEqual([]);
    expect(await namesIn(layout.tmp)).toEqual([]);
  });
});
