/**
 * `opkfarm health [--json] [--prometheus FILE]`: one line per check and the
 * overall result; exit status 0 ok, 1 warning, 2 critical (lib/health/).
 */
import type { Argv } from 'yargs';
import { writeContentAtomic } from '../../lib/fs/atomic.js';
import { HEALTH_CHECKS } from '../../lib/health/checks.js';
import { formatPrometheus } from '../../lib/health/prometheus.js';
import { runHealthChecks } from '../../lib/health/run.js';
import { STATUS_CODE, type HealthReport } from '../../lib/health/types.js';
import { openFarm, withRoot } from '../cli/root.js';

export function healthCommands(argv: Argv): Argv {
  return argv.command(
    'health',
    'check every stage of the farm for stuck or missing work; exit 0 ok, 1 warning, 2 critical',
    (command) =>
      withRoot(command)
        .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
        .option('prometheus', { type: 'string', describe: 'also write the report in Prometheus text format to FILE (atomically)' }),
    async (args) => {
      const { layout, config } = await openFarm(args.root);
      const report = await runHealthChecks(HEALTH_CHECKS, { layout, config, now: new Date(), thresholds: config.health });
      if (args.prometheus !== undefined) await writeContentAtomic(args.prometheus, formatPrometheus(report));
      process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      process.exitCode = STATUS_CODE[report.status];
    },
  );
}

export function formatReport(report: HealthReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    lines.push(`${check.status.padEnd(8)} ${check.check}: ${check.summary}`);
    for (const detail of check.details ?? []) lines.push(`           ${detail}`);
  }
  lines.push(`health: ${report.status}`);
  return `${lines.join('\n')}\n`;
}
