/**
 * Failed builds of the last days, from the build results archived stores
 * (archive/logs/<source>/<key>_<arch>_<plat>.result): each is a warning,
 * with where its log is, until it is retried or ages out of the window.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Finding, HealthCheck } from '../types.js';

export const failedBuildsCheck: HealthCheck = {
  name: 'failed-builds',
  async run({ layout, now, thresholds }): Promise<Finding> {
    const logs = join(layout.archive, 'logs');
    const since = now.getTime() - thresholds.failedBuildWindow * 1000;
    const details: string[] = [];
    let recent = 0;
    for (const source of await namesIn(logs)) {
      for (const name of await namesIn(join(logs, source))) {
        if (!name.endsWith('.result')) continue;
        const path = join(logs, source, name);
        // Results are written once: an old mtime means an old build, not worth reading.
        if (((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) < since) continue;
        recent += 1;
        const text = await readFile(path, 'utf8').catch(() => '');
        if (!/^Status: failed$/m.test(text)) continue;
        const error = /^Error: (.*)$/m.exec(text)?.[1] ?? 'no reason recorded';
        details.push(`${name.replace(/\.result$/, '')}: ${error} (log: ${path.replace(/\.result$/, '.log')})`);
      }
    }
    const days = (thresholds.failedBuildWindow / 86400).toFixed(0);
    return {
      status: details.length > 0 ? 'warning' : 'ok',
      summary: `${details.length} of ${recent} builds stored in the last ${days} days failed`,
      details,
      metrics: [{ name: 'failed_builds_recent', help: 'Failed builds stored within the window.', value: details.length }],
    };
  },
};

async function namesIn(directory: string): Promise<string[]> {
  return (await readdir(directory).catch(() => [] as string[])).sort();
}
