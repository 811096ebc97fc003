/**
 * The report in Prometheus text format, for node_exporter's textfile
 * collector: one status gauge per check (0 ok, 1 warning, 2 critical), the
 * overall status, and each check's own metrics.
 */
import { STATUS_CODE, type HealthMetric, type HealthReport } from './types.js';

export function formatPrometheus(report: HealthReport): string {
  const metrics: HealthMetric[] = [
    { name: 'health_status', help: 'Overall health: 0 ok, 1 warning, 2 critical.', value: STATUS_CODE[report.status] },
    ...report.checks.map((check) => ({
      name: 'health_check_status',
      help: 'Status of one health check: 0 ok, 1 warning, 2 critical.',
      labels: { check: check.check },
      value: STATUS_CODE[check.status],
    })),
    { name: 'health_generated_timestamp_seconds', help: 'When the report was made.', value: Date.parse(report.generatedAt) / 1000 },
    ...report.checks.flatMap((check) => check.metrics ?? []),
  ];
  const lines: string[] = [];
  const described = new Set<string>();
  for (const metric of [...metrics].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const name = `opkfarm_${metric.name}`;
    if (!described.has(name)) {
      lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} gauge`);
      described.add(name);
    }
    lines.push(`${name}${formatLabels(metric.labels)} ${formatValue(metric.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined || Object.keys(labels).length === 0) return '';
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${parts.join(',')}}`;
}

function formatValue(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
}
