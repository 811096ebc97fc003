/**
 * Claims (lib/queue/claims.ts): taking a build queue entry is exclusive,
 * pending entries are real entries in acceptance order, stale claims go
 * back to their queue and live ones stay (I8), and none of it changes a
 * master entry's link count (I2).
 */
import { link, lstat, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueLayout } from '../../lib/layout.js';
import { claimEntry, finishClaim, listClaims, pendingKeys, recoverStaleClaims, returnClaim } from '../../lib/queue/claims.js';
import { currentProcess, heartbeatPath, type ProcessIdentity } from '../../lib/queue/heartbeat.js';
import { initFarmInProcess, namesIn, removeScratch, scratchDirectory } from '../support/farm.js';

const LEASE_SECONDS = 600;

let scratch: string | undefined;
let layout: QueueLayout;
const children: Array<ReturnType<typeof execa>> = [];

beforeEach(async () => {
  scratch = await scratchDirectory('claims');
  ({ layout } = await initFarmInProcess(join(scratch, 'root'), {
    queues: [
      { name: 'indep', architectures: ['all'] },
      { name: 'native', architectures: ['amd64-linux-glibc'] },
    ],
  }));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.catch(() => undefined);
  }
  await removeScratch(scratch);
  scratch = undefined;
});

/** A master entry linked into `queues`, as buildq accept leaves it. */
async function addEntry(key: string, queues: readonly string[]): Promise<void> {
  await writeFile(layout.masterEntry(key), `source package ${key}\n`);
  for (const queue of queues) await link(layout.masterEntry(key), layout.buildQueueEntry(queue, key));
}

async function linkCount(key: string): Promise<number> {
  return (await lstat(layout.masterEntry(key))).nlink;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '']);
  const pid = child.pid as number;
  await child;
  return pid;
}

/** The pid of a process that runs until the test ends. */
function livePid(): number {
  const child = execa('sleep', ['120'], { reject: false });
  children.push(child);
  return child.pid as number;
}

/** A claim of `key` in `queue` by `owner`, made by renaming the entry as claimEntry does. */
async function claimAs(queue: string, key: string, owner: ProcessIdentity): Promise<void> {
  expect(await claimEntry(layout, queue, key, owner)).toBeDefined();
}

/** Gives `owner` a heartbeat last refreshed `ageSeconds` ago. */
async function heartbeat(owner: ProcessIdentity, ageSeconds: number): Promise<void> {
  const path = heartbeatPath(layout, 'buildd', owner);
  await writeFile(path, `Program: buildd\nHost: ${owner.host}\nPid: ${owner.pid}\n`);
  const when = new Date(Date.now() - ageSeconds * 1000);
  await utimes(path, when, when);
}

describe('claimEntry', () => {
  it('is exclusive: of two simultaneous claims of one key, exactly one wins', async () => {
    const keys = Array.from({ length: 20 }, (_, index) => `${String(index + 1).padStart(10, '0')}_pkg_1.0`);
    for (const key of keys) await addEntry(key, ['indep']);
    const first = { host: 'host-a', pid: 101 };
    const second = { host: 'host-b', pid: 202 };
    const outcomes = await Promise.all(
      keys.map((key) => Promise.all([claimEntry(layout, 'indep', key, first), claimEntry(layout, 'indep', key, second)])),
    );
    for (const [index, [a, b]] of outcomes.entries()) {
      expect([a, b].filter((claim) => claim !== undefined), keys[index]).toHaveLength(1);
    }
    // Each key is claimed once, by its winner, and no entry is left pending.
    const claims = await listClaims(layout, 'indep');
    expect(claims.map((claim) => claim.key).sort()).toEqual(keys);
    const winners = outcomes.map(([a, b]) => (a ?? b)?.path).sort();
    expect(claims.map((claim) => claim.path).sort()).toEqual(winners);
    expect(await pendingKeys(layout, 'indep')).toEqual([]);
    // A third claim of a claimed key finds nothing.
    expect(await claimEntry(layout, 'indep', keys[0] as string, { host: 'host-c', pid: 303 })).toBeUndefined();
  });
});

describe('pendingKeys', () => {
  it('lists real entries only, sorted by key (acceptance order)', async () => {
    for (const key of ['0000000003_zeta_1.0', '0000000001_omega_2.0', '0000000010_alpha_1.0', '0000000002_beta_0.1']) {
      await addEntry(key, ['indep']);
    }
    const queue = layout.buildQueue('indep');
    // Half-published accepts and other temporaries, names that are not keys, and a claimed entry.
    await writeFile(join(queue, '.tmp-0000000004_gamma_1.0.opk'), '');
    await writeFile(join(queue, '.0000000005_delta_1.0.opk'), '');
    await writeFile(join(queue, 'not-a-key.opk'), '');
    await writeFile(join(queue, '0000000006_eps_1.0.opk.part'), '');
    await mkdir(join(queue, 'lost+found'));
    await addEntry('0000000000_claimed_1.0', ['indep']);
    await claimAs('indep', '0000000000_claimed_1.0', { host: 'elsewhere', pid: 1 });

    expect(await pendingKeys(layout, 'indep')).toEqual([
      '0000000001_omega_2.0',
      '0000000002_beta_0.1',
      '0000000003_zeta_1.0',
      '0000000010_alpha_1.0',
    ]);
    expect(await pendingKeys(layout, 'native')).toEqual([]);
  });
});

describe('recoverStaleClaims', () => {
  it('returns claims whose owner is gone and keeps those whose owner lives', async () => {
    const self = currentProcess();
    const owners = {
      deadHere: { host: self.host, pid: await deadPid() },
      liveHere: { host: self.host, pid: livePid() },
      staleThere: { host: 'other-host', pid: 4242 },
      freshThere: { host: 'other-host', pid: 4343 },
      silentThere: { host: 'third-host', pid: 4444 },
      earlierSelf: self,
      currentSelf: self,
    };
    await heartbeat(owners.staleThere, LEASE_SECONDS + 60);
    await heartbeat(owners.freshThere, 5);
    const keys: Record<keyof typeof owners, string> = {
      deadHere: '0000000001_dead-here_1.0',
      liveHere: '0000000002_live-here_1.0',
      staleThere: '0000000003_stale-there_1.0',
      freshThere: '0000000004_fresh-there_1.0',
      silentThere: '0000000005_silent-there_1.0',
      earlierSelf: '0000000006_earlier-self_1.0',
      currentSelf: '0000000007_current-self_1.0',
    };
    const own = new Set<string>();
    for (const [name, key] of Object.entries(keys) as Array<[keyof typeof owners, string]>) {
      await addEntry(key, ['indep']);
      const claim = await claimEntry(layout, 'indep', key, owners[name]);
      if (name === 'currentSelf' && claim) own.add(claim.path);
    }
    const countsBefore = await Promise.all(Object.values(keys).map(linkCount));

    const returned = await recoverStaleClaims(layout, 'indep', LEASE_SECONDS, self, own);

    expect(returned.map((claim) => claim.key).sort()).toEqual(
      [keys.deadHere, keys.staleThere, keys.silentThere, keys.earlierSelf].sort(),
    );
    expect(await pendingKeys(layout, 'indep')).toEqual([keys.deadHere, keys.staleThere, keys.silentThere, keys.earlierSelf].sort());
    expect((await listClaims(layout, 'indep')).map((claim) => claim.key)).toEqual([keys.liveHere, keys.freshThere, keys.currentSelf]);
    expect(await Promise.all(Object.values(keys).map(linkCount))).toEqual(countsBefore);
    expect(countsBefore.every((count) => count === 2)).toBe(true);

    // Nothing more is stale: a second pass returns nothing.
    expect(await recoverStaleClaims(layout, 'indep', LEASE_SECONDS, self, own)).toEqual([]);
  });
});

describe('link counts', () => {
  it('stay 1 + the queues holding the entry through claim and return; the pop takes one away', async () => {
    const key = '0000000001_both_1.0';
    await addEntry(key, ['indep', 'native']);
    expect(await linkCount(key)).toBe(3);

    const claim = await claimEntry(layout, 'indep', key, { host: 'h', pid: 1 });
    expect(claim).toBeDefined();
    expect(await linkCount(key)).toBe(3);
    await returnClaim(layout, claim!);
    expect(await linkCount(key)).toBe(3);
    expect(await namesIn(layout.claims('indep'))).toEqual([]);
    expect(await pendingKeys(layout, 'indep')).toEqual([key]);

    const again = await claimEntry(layout, 'indep', key, { host: 'h', pid: 2 });
    await finishClaim(layout, again!);
    expect(await linkCount(key)).toBe(2);
    const native = await claimEntry(layout, 'native', key, { host: 'h', pid: 3 });
    expect(await linkCount(key)).toBe(2);
    await finishClaim(layout, native!);
    expect(await linkCount(key)).toBe(1);
    expect(await namesIn(layout.buildQueue('indep'))).toEqual(['claims']);
    expect(await namesIn(layout.claims('native'))).toEqual([]);
  });
});
