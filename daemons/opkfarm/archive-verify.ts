/**
 * `opkfarm archive verify [--root DIR] [--json]`: checks the archive against
 * its indexes (lib/archive/verify.ts), without the lock. Prints one line per
 * problem, then each note as `note: …`, then a summary; with --json, the
 * report as one JSON object. Exit status 0 when there is no problem (notes
 * allowed), 1 otherwise.
 */
import type { Argv } from 'yargs';
import { formatFinding } from '../../lib/archive/findings.js';
import { verifyArchive, type VerifyReport } from '../../lib/archive/verify.js';
import { openFarm, withRoot } from '../cli/root.js';
import { EXIT_FAILURE } from '../cli/run.js';

export function verifyCommand(argv: Argv): Argv {
  return argv.command(
    'verify',
    'check that every index entry has its pool file, with the listed size, digests and control fields (exit 1 on problems)',
    (command) => withRoot(command).option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }),
    async (args) => {
      const { layout } = await openFarm(args.root);
      const report = await verifyArchive(layout);
      process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report));
      if (report.problems.length > 0) process.exitCode = EXIT_FAILURE;
    },
  );
}

/** Problems, notes, then the summary line. */
function formatVerifyReport(report: VerifyReport): string {
  const { feeds, stanzas, poolFiles } = report.checked;
  const lines = [...report.problems.map(formatFinding), ...report.notes.map((note) => `note: ${formatFinding(note)}`)];
  const checked = `${plural(feeds, 'feed')}, ${plural(stanzas, 'stanza')}, ${plural(poolFiles, 'pool file')}`;
  const outcome = report.problems.length === 0 ? 'no problems' : plural(report.problems.length, 'problem');
  const notes = report.notes.length === 0 ? '' : `, ${plural(report.notes.length, 'note')}`;
  lines.push(`verify: ${outcome}${notes} (${checked} checked)`);
  return `${lines.join('\n')}\n`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
