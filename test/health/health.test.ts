/**
 * `opkfarm health` (lib/health/): each stuck condition made on purpose and
 * named by its check with the right status; a check that throws does not
 * hide the others; the CLI's exit status, JSON and Prometheus file.
 */
import { link, mkdir, readFile, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { includeEntry } from '../../lib/archive/include.js';
import { releaseSuite } from '../../lib/archive/suites.js';
import type { FarmConfig } from '../../lib/config.js';
import { HEALTH_CHECKS } from '../../lib/health/checks.js';
import { formatPrometheus } from '../../lib/health/prometheus.js';
import { runHealthChecks } from '../../lib/health/run.js';
import { DEFAULT_THRESHOLDS, type CheckResult, type HealthCheck, type HealthReport } from '../../lib/health/types.js';
import { uploadKey, type QueueLayout } from '../../lib/layout.js';
import { beat, currentProcess } from '../../lib/queue/heartbeat.js';
import { makeEntry } from '../archive/fixtures.js';
import { initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';
import { runProgram } from '../support/programs.js';

let scratch: string | undefined;
let layout: QueueLayout;
let config: FarmConfig;

const HOUR = 3600_000;
const KEY = uploadKey(1, 'hello', '1.0-1');

beforeEach(async () => {
  scratch = await scratchDirectory('health');
  ({ layout, config } = await initFarmInProcess(join(scratch, 'root'), { queues: [{ name: 'indep', architectures: ['all'] }] }));
  // Every daemon alive (this test process stands in for them): only what a test breaks shows.
  for (const program of ['buildd', 'builddd', 'archived']) await beat(layout, program, currentProcess());
});

afterEach(async () => {
  await removeScratch(scratch);
  scratch = undefined;
});

async function health(hoursLater = 0, checks: readonly HealthCheck[] = HEALTH_CHECKS): Promise<HealthReport> {
  const now = new Date(Date.now() + hoursLater * HOUR);
  // Heartbeats age with the clock: keep them fresh at the simulated time.
  for (const program of ['buildd', 'builddd', 'archived']) await utimes(join(layout.heartbeats, `${program}@${currentProcess().host}@${process.pid}`), now, now);
  return runHealthChecks(checks, { layout, config, now, thresholds: DEFAULT_THRESHOLDS });
}

function check(report: HealthReport, name: string): CheckResult {
  const found = report.checks.find((result) => result.check === name);
  if (found === undefined) throw new Error(`no check ${name}`);
  return found;
}

/** A master entry linked into the indep queue, as accept leaves it, accepted `hoursAgo`. */
async function acceptedEntry(hoursAgo: number): Promise<void> {
  await writeFile(layout.masterEntry(KEY), 'source package');
  await link(layout.masterEntry(KEY), layout.buildQueueEntry('indep', KEY));
  const then = new Date(Date.now() - hoursAgo * HOUR);
  await utimes(layout.masterEntry(KEY), then, then);
}

describe('opkfarm health checks', () => {
  it('says ok for an idle farm with its daemons running', async () => {
    const report = await health();
    expect(report.checks.map((result) => `${result.check} ${result.status}`)).toEqual([
      'filesystem ok',
      'daemons ok',
      'incoming ok',
      'build-queues ok',
      'master-links ok',
      'archive-queue ok',
      'failed-builds ok',
      'leftovers ok',
      'mail ok',
      'releases ok',
      'archive ok',
    ]);
    expect(report.status).toBe('ok');
  });

  it('names a daemon that is not running, and the heartbeat a dead one left', async () => {
    await writeFile(join(layout.heartbeats, `buildd@${currentProcess().host}@999999`), '');
    const report = await health();
    expect(check(report, 'daemons')).toMatchObject({ status: 'warning', details: [expect.stringMatching(/^buildd 999999 on .*: process gone/)] });
    await unlink(join(layout.heartbeats, `archived@${currentProcess().host}@${process.pid}`)).catch(() => undefined);
    const without = await runHealthChecks(HEALTH_CHECKS, { layout, config, now: new Date(), thresholds: DEFAULT_THRESHOLDS });
    expect(check(without, 'daemons').status).toBe('critical');
    expect(check(without, 'daemons').summary).toMatch(/^not running: archived /);
  });

  it('warns about a queue whose oldest entry waits too long, then calls it critical', async () => {
    await acceptedEntry(7);
    expect(check(await health(), 'build-queues')).toMatchObject({ status: 'warning', details: ['queue indep: oldest entry waiting 7.0 h'] });
    expect(check(await health(18), 'build-queues').status).toBe('critical');
    expect(check(await health(), 'master-links').status).toBe('ok');
  });

  it('finds a claim whose owner is dead', async () => {
    await acceptedEntry(0);
    await rename(layout.buildQueueEntry('indep', KEY), join(layout.claims('indep'), `${KEY}.opk@${currentProcess().host}@999999`));
    expect(check(await health(), 'build-queues')).toMatchObject({
      status: 'warning',
      details: [`queue indep: claim ${KEY} of ${currentProcess().host}@999999 has no live owner (the next buildd returns it)`],
    });
  });

  it('calls a foreign link to a master entry critical: builddd would wait for it forever', async () => {
    await acceptedEntry(0);
    await link(layout.masterEntry(KEY), join(scratch as string, 'an uploader link'));
    const result = check(await health(), 'master-links');
    expect(result.status).toBe('critical');
    expect(result.details).toEqual([expect.stringMatching(/master\/0000000001_hello_1\.0-1\.opk: link count 3 but the queues hold 1: a link outside/)]);
  });

  it('finds a built entry that builddd has not moved, and a complete entry archived has not included', async () => {
    await writeFile(layout.masterEntry(KEY), 'source package');
    expect(check(await health(2), 'master-links')).toMatchObject({ status: 'critical', details: [expect.stringMatching(/still in master\/ \(is builddd running\?\)$/)] });
    const entry = await makeEntry(layout, { sequence: 2, source: 'world', version: '1.0', builds: [{ architecture: 'all', packages: [{ package: 'world' }] }] });
    expect(check(await health(0.25), 'archive-queue')).toMatchObject({ status: 'warning', summary: '1 complete entries waiting for archived, 0 still being built' });
    expect(check(await health(2), 'archive-queue').details).toEqual([expect.stringMatching(new RegExp(`^${entry}: complete for 2\\.0 h, not yet in the archive`))]);
  });

  it('reports recent failed builds with their logs', async () => {
    const key = await makeEntry(layout, {
      sequence: 3,
      source: 'world',
      version: '1.0',
      builds: [{ architecture: 'all', status: 'failed', error: 'make: *** [build] Error 2' }],
    });
    await includeEntry(layout, key);
    const result = check(await health(), 'failed-builds');
    expect(result.status).toBe('warning');
    expect(result.details).toEqual([`${key}_all_all: make: *** [build] Error 2 (log: ${join(layout.archive, 'logs', 'world', `${key}_all_all.log`)})`]);
    expect(check(await health(24 * 4), 'failed-builds').status).toBe('ok');
  });

  it('lists leftovers with their sizes once they are old', async () => {
    await mkdir(join(layout.tmp, '.tmp-build-x@host@1-abc'));
    await writeFile(join(layout.tmp, '.tmp-build-x@host@1-abc', 'big'), 'x'.repeat(2048));
    expect(check(await health(), 'leftovers').status).toBe('ok');
    expect(check(await health(2), 'leftovers')).toMatchObject({
      status: 'warning',
      details: [expect.stringMatching(/tmp\/\.tmp-build-x@host@1-abc: 2\.0 KiB, untouched for 2\.0 h$/)],
    });
  });

  it('counts mail waiting in the retry spool and mail given up on', async () => {
    const spoolName = (created: Date) => `${created.toISOString().replace(/[-:.]/g, '')}-0123456789abcdef.mail`;
    await writeFile(join(layout.mailSpool, spoolName(new Date(Date.now() - 2 * HOUR))), 'Opkfarm-Spool: 1\n\n');
    expect(check(await health(), 'mail')).toMatchObject({
      status: 'warning',
      summary: '1 waiting (oldest 2.0 h), 0 failed',
      details: ['1 messages waiting, the oldest for 2.0 h (opkfarm mail list; opkfarm mail flush)'],
    });
    await writeFile(join(layout.mailSpoolFailed, spoolName(new Date())), 'Opkfarm-Spool: 1\n\n');
    expect(check(await health(), 'mail').details).toHaveLength(2);
  });

  it('reports a symlink planted in incoming/ and an upload left waiting', async () => {
    await symlink(layout.configFile, join(layout.incoming, 'planted.opk'));
    await writeFile(join(layout.incoming, 'ghost_1.0.changes'), 'Format: 1.8\nSource: ghost\nVersion: 1.0\n');
    const result = check(await health(25), 'incoming');
    expect(result.status).toBe('warning');
    expect(result.details).toEqual([
      expect.stringMatching(/^ghost_1\.0\.changes: invalid for 25\.0 h \(buildq clean-incoming\)$/),
      expect.stringMatching(/^planted\.opk: .*symbolic link/),
    ]);
  });

  it('names a release that stays behind its dev suite', async () => {
    await includeEntry(layout, await makeEntry(layout, { sequence: 1, source: 'hello', version: '1.0-1', builds: [{ architecture: 'all', packages: [{ package: 'hello' }] }] }));
    await releaseSuite(layout, 'dev/trunk', 'rel/rs1');
    await includeEntry(layout, await makeEntry(layout, { sequence: 2, source: 'hello', version: '1.1-1', builds: [{ architecture: 'all', packages: [{ package: 'hello' }] }] }));
    expect(check(await health(), 'releases').status).toBe('ok');
    expect(check(await health(24 * 31), 'releases')).toMatchObject({
      status: 'warning',
      details: [expect.stringMatching(/^rel\/rs1 is behind dev\/trunk by 2 packages for 31\.0 days: hello 1\.1-1, src-hello 1\.1-1$/)],
    });
  });

  it('calls a truncated pool file critical', async () => {
    await includeEntry(layout, await makeEntry(layout, { sequence: 1, source: 'hello', version: '1.0-1', builds: [{ architecture: 'all', packages: [{ package: 'hello' }] }] }));
    expect(check(await health(), 'archive').status).toBe('ok');
    await writeFile(join(layout.archive, 'pool/h/hello/hello_1.0-1_all_all.opk'), 'truncated');
    const result = check(await health(), 'archive');
    expect(result.status).toBe('critical');
    expect(result.details?.[0]).toMatch(/^pool\/h\/hello\/hello_1\.0-1_all_all\.opk: /);
  });

  it('still reports every other check when one throws or hangs', async () => {
    const broken: HealthCheck = {
      name: 'broken',
      run: () => Promise.reject(new Error('disk on fire')),
    };
    const hanging: HealthCheck = { name: 'hanging', run: () => new Promise(() => undefined) };
    const report = await runHealthChecks([broken, ...HEALTH_CHECKS, hanging], { layout, config, now: new Date(), thresholds: DEFAULT_THRESHOLDS }, 200);
    expect(report.checks).toHaveLength(HEALTH_CHECKS.length + 2);
    expect(report.checks[0]).toEqual({ check: 'broken', status: 'critical', summary: 'the check itself failed: disk on fire' });
    expect(report.checks.at(-1)).toEqual({ check: 'hanging', status: 'critical', summary: 'the check itself failed: did not finish within 0.2 s' });
    expect(report.checks.slice(1, -1).every((result) => result.status === 'ok')).toBe(true);
    expect(report.status).toBe('critical');
  });

  it('writes Prometheus text with a status per check and each check metric', async () => {
    await acceptedEntry(0);
    const text = formatPrometheus(await health());
    expect(text).toContain('# TYPE opkfarm_health_status gauge\nopkfarm_health_status 0\n');
    expect(text).toContain('opkfarm_health_check_status{check="master-links"} 0\n');
    expect(text).toContain('opkfarm_queue_depth{queue="indep"} 1\n');
    // promtool is not at hand: check the grammar of every sample line instead.
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) opkfarm_\w+ .+|opkfarm_\w+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? (-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?|[+-]Inf|NaN))$/);
  });
});

describe('opkfarm health, the command', () => {
  it("judges ages by the configuration's Health-* thresholds", async () => {
    await acceptedEntry(7);
    const queues = async () => {
      const run = await runProgram('opkfarm', ['health', '--json', '--root', layout.root]);
      return check(JSON.parse(String(run.stdout)) as HealthReport, 'build-queues').status;
    };
    expect(await queues()).toBe('warning');
    const installed = await readFile(layout.configFile, 'utf8');
    await writeFile(layout.configFile, installed.replace(/^(Farm: .*\n)/m, '$1Health-Queue-Age-Seconds: 86400 172800\n'));
    expect(await queues()).toBe('ok');
  });

  it('exits 2 when daemons are missing, 0 once they run, and writes JSON and the Prometheus file', async () => {
    const prom = join(scratch as string, 'opkfarm.prom');
    const healthy = await runProgram('opkfarm', ['health', '--root', layout.root, '--prometheus', prom]);
    expect(healthy.exitCode).toBe(0);
    expect(String(healthy.stdout).split('\n').at(-1)).toBe('health: ok');
    expect(await readFile(prom, 'utf8')).toContain('opkfarm_health_status 0\n');

    await rm(layout.heartbeats, { recursive: true });
    await mkdir(layout.heartbeats);
    const json = await runProgram('opkfarm', ['health', '--json', '--root', layout.root]);
    expect(json.exitCode).toBe(2);
    const report = JSON.parse(String(json.stdout)) as HealthReport;
    expect(report.status).toBe('critical');
    expect(report.checks.map((result) => result.check)).toEqual(HEALTH_CHECKS.map((known) => known.name));
  });
});
