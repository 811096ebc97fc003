/**
 * The build queues and master/: how deep each queue is and how long its
 * oldest entry has waited (an entry's inode was written at accept, so its
 * mtime is the acceptance time), claims whose owner is gone, and master
 * entries whose link count is higher than the queues holding them can
 * explain: a foreign link that would keep builddd waiting forever.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseUploadKey } from '../../layout.js';
import { isClaimStale, listClaims, pendingKeys } from '../../queue/claims.js';
import { currentProcess } from '../../queue/heartbeat.js';
import { formatAge } from '../../units.js';
import { ageStatus, worst, type Finding, type HealthCheck, type HealthMetric, type HealthStatus } from '../types.js';

export const buildQueuesCheck: HealthCheck = {
  name: 'build-queues',
  async run({ layout, config, now, thresholds }): Promise<Finding> {
    const self = currentProcess();
    const statuses: HealthStatus[] = [];
    const details: string[] = [];
    const metrics: HealthMetric[] = [];
    const lines: string[] = [];
    for (const queue of config.queues) {
      const keys = await pendingKeys(layout, queue.name);
      const claims = await listClaims(layout, queue.name);
      const paths = [...keys.map((key) => layout.buildQueueEntry(queue.name, key)), ...claims.map((claim) => claim.path)];
      let oldest = 0;
      for (const path of paths) {
        const mtime = (await lstat(path).catch(() => undefined))?.mtimeMs;
        if (mtime !== undefined) oldest = Math.max(oldest, (now.getTime() - mtime) / 1000);
      }
      const status = ageStatus(oldest, thresholds.queueAge);
      statuses.push(status);
      if (status !== 'ok') details.push(`queue ${queue.name}: oldest entry waiting ${formatAge(oldest)}`);
      for (const claim of claims) {
        if (await isClaimStale(layout, claim, self, config.leaseSeconds)) {
          statuses.push('warning');
          details.push(`queue ${queue.name}: claim ${claim.key} of ${claim.owner.host}@${claim.owner.pid} has no live owner (the next buildd returns it)`);
        }
      }
      lines.push(`${queue.name} ${keys.length} waiting + ${claims.length} building`);
      metrics.push(
        { name: 'queue_depth', help: 'Entries waiting in a build queue.', labels: { queue: queue.name }, value: keys.length },
        { name: 'queue_claims', help: 'Entries being built (claimed).', labels: { queue: queue.name }, value: claims.length },
        { name: 'queue_oldest_seconds', help: 'Age of the oldest entry of a build queue.', labels: { queue: queue.name }, value: oldest },
      );
    }
    return { status: worst(statuses), summary: lines.join('; ') || 'no build queues', details, metrics };
  },
};

export const masterLinksCheck: HealthCheck = {
  name: 'master-links',
  async run({ layout, config, now, thresholds }): Promise<Finding> {
    // How many names in the queues each key has: queue entries, claims, half-published dot names.
    const holders = new Map<string, number>();
    const count = (key: string | undefined) => {
      if (key !== undefined) holders.set(key, (holders.get(key) ?? 0) + 1);
    };
    for (const queue of config.queues) {
      for (const name of await readdir(layout.buildQueue(queue.name))) count(/^(?:\.tmp-)?(.+)\.opk$/.exec(name)?.[1]);
      for (const claim of await listClaims(layout, queue.name)) count(claim.key);
    }
    for (const name of await readdir(layout.tmp)) count(/^\.tmp-(?:accept|publish)-(.+)\.opk$/.exec(name)?.[1]);

    const details: string[] = [];
    const statuses: HealthStatus[] = [];
    let entries = 0;
    for (const name of (await readdir(layout.master)).sort()) {
      const key = /^(.+)\.opk$/.exec(name)?.[1];
      if (key === undefined || !parseUploadKey(key)) continue;
      entries += 1;
      const stats = await lstat(join(layout.master, name)).catch(() => undefined);
      if (stats === undefined) continue;
      const explained = 1 + (holders.get(key) ?? 0);
      if (stats.nlink > explained) {
        statuses.push('critical');
        details.push(
          `${join(layout.master, name)}: link count ${stats.nlink} but the queues hold ${explained - 1}: ` +
            'a link outside the queues keeps builddd from ever moving it (find it with find -samefile)',
        );
      } else if (stats.nlink === 1) {
        const age = (now.getTime() - stats.ctimeMs) / 1000;
        const status = ageStatus(age, thresholds.archiveQueueAge);
        statuses.push(status);
        if (status !== 'ok') details.push(`${key}: built ${formatAge(age)} ago but still in master/ (is builddd running?)`);
      }
    }
    return {
      status: worst(statuses),
      summary: details.length === 0 ? `${entries} master entries, every link accounted for` : `${details.length} of ${entries} master entries stuck`,
      details,
      metrics: [{ name: 'master_entries', help: 'Uploads accepted and not yet moved to the archive queue.', value: entries }],
    };
  },
};
