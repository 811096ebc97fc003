/**
 * What crashed or killed programs leave behind: `.tmp-` names (temporary
 * files, work and unpack directories, half-done accepts) older than the
 * leftover age, anywhere a program writes them, with their sizes.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../fs/atomic.js';
import type { QueueLayout } from '../../layout.js';
import type { Finding, HealthCheck } from '../types.js';
import { formatAge, formatSize } from '../../units.js';

export const leftoversCheck: HealthCheck = {
  name: 'leftovers',
  async run({ layout, config, now, thresholds }): Promise<Finding> {
    const details: string[] = [];
    let total = 0;
    for (const directory of placesWithTemporaries(layout, config.queues.map((queue) => queue.name))) {
      for (const name of await namesIn(directory)) {
        if (!name.startsWith(TEMP_PREFIX)) continue;
        const path = join(directory, name);
        const stats = await lstat(path).catch(() => undefined);
        if (stats === undefined) continue;
        const age = (now.getTime() - stats.mtimeMs) / 1000;
        if (age < thresholds.leftoverAge) continue;
        const size = await sizeOf(path);
        total += size;
        details.push(`${path}: ${formatSize(size)}, untouched for ${formatAge(age)}`);
      }
    }
    return {
      status: details.length > 0 ? 'warning' : 'ok',
      summary: details.length === 0 ? 'no leftover temporary files' : `${details.length} leftovers, ${formatSize(total)} (opkfarm clean lists and removes them)`,
      details,
      metrics: [
        { name: 'leftovers', help: 'Temporary files and directories older than the leftover age.', value: details.length },
        { name: 'leftover_bytes', help: 'Their total size.', value: total },
      ],
    };
  },
};

/** Every directory a farm program writes `.tmp-` names into (an uploader's partial files are the incoming check's). */
function placesWithTemporaries(layout: QueueLayout, queues: readonly string[]): string[] {
  return [
    layout.tmp,
    layout.master,
    layout.archiveQueue,
    layout.outbox,
    layout.state,
    ...queues.flatMap((queue) => [layout.buildQueue(queue), layout.claims(queue)]),
  ];
}

async function namesIn(directory: string): Promise<string[]> {
  return (await readdir(directory).catch(() => [] as string[])).sort();
}

async function sizeOf(path: string): Promise<number> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) return 0;
  if (!stats.isDirectory()) return stats.size;
  let total = 0;
  for (const name of await namesIn(path)) total += await sizeOf(join(path, name));
  return total;
}
