/**
 * The daemons' event lines with --log-format json: one JSON object per line
 * with ts, program, event and the event's fields, source, version, queue,
 * architecture and duration among them where known. A daemon running with
 * the option keeps its heartbeat as ever; a format it does not know is a
 * usage error.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptUpload } from '../../lib/queue/accept.js';
import { currentProcess } from '../../lib/queue/heartbeat.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { initFarmInProcess } from '../support/farm.js';
import { runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

const KEY = '0000000001_logpkg_1.0';

const { directory, daemons } = usePipelineScratch('log-format');

type Event = Record<string, unknown>;

/** Every line of a program's stderr as JSON; fails on a line that is not one object. */
function events(stderr: string): Event[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const event = JSON.parse(line) as unknown;
      if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new Error(`not an object: ${line}`);
      return event as Event;
    });
}

function eventNamed(all: readonly Event[], name: string): Event {
  const found = all.find((event) => event.event === name);
  if (found === undefined) throw new Error(`no ${name} event in ${JSON.stringify(all)}`);
  return found;
}

describe('--log-format json', () => {
  it('writes one JSON object per event, with the upload, queue, architecture and duration', async () => {
    const base = directory();
    const root = join(base, 'root');
    // Set up in this process: what is tested is the daemons' output.
    const { layout, config } = await initFarmInProcess(root, { queues: [{ name: 'indep', architectures: ['all'] }] });
    const source = await writeSourcePackage(join(base, 'sources'), { name: 'logpkg', version: '1.0', binaries: [{ name: 'logpkg', architecture: 'all' }] });
    const made = await buildSourcePackage(source, { outputDirectory: layout.incoming });
    await acceptUpload(layout, config, made.changesFile, 'ok');

    const lines: Record<string, Event[]> = {};
    for (const [program, extra] of [['buildd', ['--queue', 'indep']], ['builddd', []], ['archived', []]] as const) {
      const result = await runProgram(program, ['--root', root, '--once', '--log-format', 'json', ...extra]);
      expect(result.exitCode, String(result.stderr)).toBe(0);
      lines[program] = events(String(result.stderr));
      for (const event of lines[program]) {
        expect(event).toMatchObject({ program, event: expect.any(String) as unknown });
        expect(Object.keys(event).slice(0, 3)).toEqual(['ts', 'program', 'event']);
        expect(new Date(String(event.ts)).toISOString()).toBe(event.ts);
      }
    }

    const upload = { key: KEY, source: 'logpkg', version: '1.0' };
    const buildd = lines.buildd ?? [];
    expect(eventNamed(buildd, 'sandbox')).toMatchObject({ queue: 'indep', sandbox: expect.stringMatching(/^(bwrap|none)$/) as unknown });
    expect(eventNamed(buildd, 'claimed')).toMatchObject({ queue: 'indep', ...upload });
    expect(eventNamed(buildd, 'built')).toMatchObject({
      queue: 'indep',
      ...upload,
      architecture: 'all',
      platform: 'all',
      binaries: 1,
      duration: expect.any(Number) as unknown,
    });
    expect(eventNamed(buildd, 'popped')).toMatchObject({ queue: 'indep', ...upload, duration: expect.any(Number) as unknown });
    expect(eventNamed(lines.builddd ?? [], 'built')).toMatchObject(upload);
    // The binary and the source package.
    expect(eventNamed(lines.archived ?? [], 'installed')).toMatchObject({ ...upload, binaries: 2 });
  }, 60_000);

  it('keeps the heartbeat of a running daemon, and refuses a format it does not know', async () => {
    const root = join(directory(), 'root');
    await initFarmInProcess(root, { queues: [{ name: 'indep', architectures: ['all'] }] });
    const archived = daemons.start('archived', ['--root', root, '--log-format', 'json']);
    const heartbeat = join(root, 'state', 'heartbeats', `archived@${currentProcess().host}@${archived.pid}`);
    await waitFor('the heartbeat of archived', () => access(heartbeat).then(() => true, () => false), {
      timeoutMs: 10_000,
      diagnostics: () => archived.stderr(),
    });
    expect((await daemons.signal(archived, 'SIGTERM')).exitCode).toBe(0);
    expect(await access(heartbeat).then(() => true, () => false)).toBe(false);
    expect(events(archived.stderr()).map((event) => event.event)).toEqual(['started', 'stopping', 'stopped']);

    const wrong = await runProgram('builddd', ['--root', root, '--once', '--log-format', 'xml']);
    expect(wrong.exitCode).toBe(2);
    expect(String(wrong.stderr)).toMatch(/log-format.*xml|xml.*log-format/i);
  }, 60_000);
});
