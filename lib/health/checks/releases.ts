/**
 * Releases that fall behind: a `rel` suite whose dev suite has packages it
 * lacks (or has at another version) for longer than the release lag. What
 * waits in a staging suite is named, so nothing sits there unseen.
 */
import { readFile } from 'node:fs/promises';
import { parseSingleStanza } from '../../formats/control.js';
import { inArchive } from '../../archive/paths.js';
import { diffSuites, listSuites, RELEASE_CHANNEL, RELEASE_FILE } from '../../archive/suites.js';
import type { Finding, HealthCheck, HealthMetric } from '../types.js';
import { formatAge } from '../../units.js';

export const releasesCheck: HealthCheck = {
  name: 'releases',
  async run({ layout, now, thresholds }): Promise<Finding> {
    const details: string[] = [];
    const metrics: HealthMetric[] = [];
    const suites = await listSuites(layout);
    const releases = suites.filter((suite) => suite.startsWith(`${RELEASE_CHANNEL}/`));
    for (const release of releases) {
      const file = inArchive(layout, `feeds/${release}/${RELEASE_FILE}`);
      const stanza = parseSingleStanza(await readFile(file, 'utf8'), { file });
      const from = stanza.get('Released-From');
      const date = Date.parse(stanza.get('Date') ?? '');
      if (from === undefined || !suites.includes(from) || Number.isNaN(date)) continue;
      const behind = (await diffSuites(layout, from, release)).filter((difference) => difference.a !== undefined);
      const age = (now.getTime() - date) / 1000;
      metrics.push({ name: 'release_behind_packages', help: 'Packages the dev suite has that the release lacks.', labels: { suite: release }, value: behind.length });
      if (behind.length > 0 && age > thresholds.releaseLag) {
        const names = behind.slice(0, 10).map((difference) => `${difference.package} ${difference.a as string}`);
        details.push(`${release} is behind ${from} by ${behind.length} packages for ${formatAge(age)}: ${names.join(', ')}${behind.length > 10 ? ', …' : ''}`);
      }
    }
    return {
      status: details.length > 0 ? 'warning' : 'ok',
      summary: releases.length === 0 ? `no releases (suites: ${suites.join(', ') || 'none'})` : `${releases.length} releases, ${details.length} behind`,
      details,
      metrics,
    };
  },
};
