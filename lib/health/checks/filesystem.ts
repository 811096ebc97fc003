/** The queue root itself: its directories, working hard links, and free space. */
import { link, lstat, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../fs/atomic.js';
import { formatSize } from '../../units.js';
import { type Finding, type HealthCheck, type HealthStatus } from '../types.js';

export const filesystemCheck: HealthCheck = {
  name: 'filesystem',
  async run({ layout, thresholds }): Promise<Finding> {
    const details: string[] = [];
    for (const directory of layout.directories()) {
      const stats = await lstat(directory).catch(() => undefined);
      if (!stats?.isDirectory()) details.push(`${directory}: missing or not a directory (run opkfarm init --root ${layout.root})`);
    }
    if (details.length > 0) return { status: 'critical', summary: `${details.length} directories of the tree are missing`, details };

    // The protocol rests on link counts: prove they still work where the farm writes.
    const probe = await mkdtemp(join(layout.tmp, `${TEMP_PREFIX}health-`));
    try {
      await writeFile(join(probe, 'a'), '');
      await link(join(probe, 'a'), join(probe, 'b'));
      const links = (await lstat(join(probe, 'a'))).nlink;
      if (links !== 2) return { status: 'critical', summary: `hard links do not raise the link count on ${layout.root} (got ${links})` };
    } catch (error) {
      return { status: 'critical', summary: `cannot make a hard link in ${layout.tmp}: ${(error as Error).message}` };
    } finally {
      await rm(probe, { recursive: true, force: true });
    }

    const space = await statfs(layout.root);
    const free = space.bavail / space.blocks;
    const [warning, critical] = thresholds.freeSpace;
    const status: HealthStatus = free <= critical ? 'critical' : free <= warning ? 'warning' : 'ok';
    const freeBytes = space.bavail * space.bsize;
    return {
      status,
      summary: `tree complete, hard links work, ${(free * 100).toFixed(1)}% free (${formatSize(freeBytes)})`,
      metrics: [
        { name: 'filesystem_free_bytes', help: 'Free bytes on the queue root filesystem.', value: freeBytes },
        { name: 'filesystem_free_ratio', help: 'Free fraction of the queue root filesystem.', value: free },
      ],
    };
  },
};

