/**
 * The archive queue: complete entries (source package present) wait for
 * archived, counted from when builddd moved the source in; incomplete ones
 * wait for builds, counted from their newest file.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseUploadKey } from '../../layout.js';
import { ageStatus, worst, type Finding, type HealthCheck, type HealthStatus } from '../types.js';
import { formatAge } from '../../units.js';

export const archiveQueueCheck: HealthCheck = {
  name: 'archive-queue',
  async run({ layout, now, thresholds }): Promise<Finding> {
    const statuses: HealthStatus[] = [];
    const details: string[] = [];
    let complete = 0;
    let incomplete = 0;
    let oldest = 0;
    for (const key of (await readdir(layout.archiveQueue)).sort()) {
      if (!parseUploadKey(key)) continue;
      const source = await lstat(join(layout.archiveQueueEntry(key), `${key}.opk`)).catch(() => undefined);
      if (source?.isFile()) {
        complete += 1;
        // ctime: when builddd renamed the source in, which made the entry complete.
        const age = (now.getTime() - source.ctimeMs) / 1000;
        oldest = Math.max(oldest, age);
        const status = ageStatus(age, thresholds.archiveQueueAge);
        statuses.push(status);
        if (status !== 'ok') details.push(`${key}: complete for ${formatAge(age)}, not yet in the archive (is archived running? see its log)`);
      } else {
        incomplete += 1;
      }
    }
    return {
      status: worst(statuses),
      summary: `${complete} complete entries waiting for archived, ${incomplete} still being built`,
      details,
      metrics: [
        { name: 'archive_queue_complete', help: 'Archive-queue entries waiting for archived.', value: complete },
        { name: 'archive_queue_incomplete', help: 'Archive-queue entries whose builds are not all done.', value: incomplete },
        { name: 'archive_queue_oldest_seconds', help: 'How long the oldest complete entry has waited.', value: oldest },
      ],
    };
  },
};
