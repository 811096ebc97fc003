/**
 * `opkfarm archive reindex [--root DIR]`: rebuilds every dev feed index from
 * the pool alone (lib/archive/reindex.ts), holding the archive lock. On a
 * terminal, stderr shows one updating line `reindex: N/M packages`. Prints
 * one line per package left out of the indexes and a summary. Exit status 0
 * when every pool file was indexed or rightly passed over, 1 when some were
 * left out (the indexes are written all the same).
 */
import type { Argv } from 'yargs';
import { formatFinding } from '../../lib/archive/findings.js';
import { reindexArchive, type ReindexReport } from '../../lib/archive/reindex.js';
import { ProgressLine } from '../cli/progress.js';
import { openFarm, withRoot } from '../cli/root.js';
import { EXIT_FAILURE } from '../cli/run.js';

export function reindexCommand(argv: Argv): Argv {
  return argv.command(
    'reindex',
    'rebuild every dev feed index from the pool alone (exit 1 when some pool files could not be indexed)',
    (command) => withRoot(command),
    async (args) => {
      const { layout } = await openFarm(args.root);
      const progress = new ProgressLine();
      let report: ReindexReport;
      try {
        report = await reindexArchive(layout, {
          onProgress: (done, total) => progress.update(`reindex: ${done}/${total} packages`, done === total),
        });
      } finally {
        progress.clear();
      }
      process.stdout.write(formatReindexReport(report));
      if (report.problems.length > 0) process.exitCode = EXIT_FAILURE;
    },
  );
}

function formatReindexReport(report: ReindexReport): string {
  const lines = report.problems.map(formatFinding);
  const feeds = report.written.length + report.unchanged;
  lines.push(
    `reindex: ${plural(report.packages, 'pool file')} read, ${plural(report.indexed, 'package')} indexed in ${plural(feeds, 'feed')} ` +
      `(${report.written.length} written, ${report.unchanged} unchanged)` +
      (report.problems.length === 0 ? '' : `; ${plural(report.problems.length, 'pool file')} left out`),
  );
  return `${lines.join('\n')}\n`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
