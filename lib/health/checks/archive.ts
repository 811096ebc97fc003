/**
 * The published archive against its indexes (archive verify): a file an
 * index lists that is missing, truncated or disagrees with its stanza is
 * what opkg users hit, so any problem is critical.
 */
import { formatFinding } from '../../archive/findings.js';
import { verifyArchive } from '../../archive/verify.js';
import type { Finding, HealthCheck } from '../types.js';

/** Lines of detail at most: the rest is one `opkfarm archive verify` away. */
const MAX_DETAILS = 20;

export const archiveCheck: HealthCheck = {
  name: 'archive',
  async run({ layout }): Promise<Finding> {
    const report = await verifyArchive(layout);
    const { problems, checked } = report;
    const details = problems.slice(0, MAX_DETAILS).map(formatFinding);
    if (problems.length > MAX_DETAILS) details.push(`… and ${problems.length - MAX_DETAILS} more (opkfarm archive verify)`);
    return {
      status: problems.length > 0 ? 'critical' : 'ok',
      summary: `${checked.feeds} feeds, ${checked.stanzas} index entries, ${checked.poolFiles} pool files: ${problems.length} problems, ${report.notes.length} notes`,
      details,
      metrics: [
        { name: 'archive_problems', help: 'Problems archive verify found.', value: problems.length },
        { name: 'archive_pool_files', help: 'Files in the pool.', value: checked.poolFiles },
      ],
    };
  },
};
