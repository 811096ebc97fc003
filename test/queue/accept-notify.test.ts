/**
 * The accepted mail is sent inside accept, before the marker goes: a buildq
 * that dies while mailing leaves the marker, and recovery mails again with
 * the same remarks. At least once, never lost.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FarmConfig } from '../../lib/config.js';
import type { QueueLayout } from '../../lib/layout.js';
import { acceptUpload, recoverAccepts } from '../../lib/queue/accept.js';
import { buildUpload, initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const KEY = '0000000001_motd-banner_2.3';

let scratch: string | undefined;
let layout: QueueLayout;
let config: FarmConfig;

beforeEach(async () => {
  scratch = await scratchDirectory('accept-notify-');
  ({ layout, config } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: 'indep', architectures: ['all'] }] }));
  await buildUpload(join(EXAMPLES, 'motd-banner'), layout.incoming);
});

afterEach(async () => {
  await removeScratch(scratch);
});

const markers = async () => (await readdir(layout.tmp)).filter((name) => name.startsWith('.tmp-')).sort();

describe('the accepted notice', () => {
  it('is given once, with the remarks, while the accept still holds its marker', async () => {
    const calls: Array<[string, string, string[]]> = [];
    await acceptUpload(layout, config, join(layout.incoming, 'motd-banner_2.3.changes'), 'Welcome.', async (key, remarks) => {
      calls.push([key, remarks, await markers()]);
    });
    expect(calls).toEqual([[KEY, 'Welcome.', [`.tmp-accept-${KEY}.remarks`, `.tmp-publish-${KEY}.opk`]]]);
    expect(await markers()).toEqual([]);
  });

  it('is given again by recovery when buildq died while sending it', async () => {
    const crash = () => Promise.reject(new Error('killed while mailing'));
    await expect(acceptUpload(layout, config, join(layout.incoming, 'motd-banner_2.3.changes'), 'Welcome.', crash)).rejects.toThrow(
      'killed while mailing',
    );
    expect(await markers()).toEqual([`.tmp-accept-${KEY}.remarks`, `.tmp-publish-${KEY}.opk`]);

    const calls: Array<[string, string]> = [];
    const recovered = await recoverAccepts(layout, config, (key, remarks) => {
      calls.push([key, remarks]);
      return Promise.resolve();
    });
    expect(calls).toEqual([[KEY, 'Welcome.']]);
    expect(recovered).toEqual([{ key: KEY, remarks: 'Welcome.' }]);
    expect(await markers()).toEqual([]);
    expect(await readdir(layout.buildQueue('indep'))).toContain(`${KEY}.opk`);
  });
});
