/** `buildq list`: every upload with its state, size, age and uploader, then what else is in incoming/. */
import { displayName, type IncomingFile, type IncomingReport, type IncomingUpload } from '../../lib/queue/incoming.js';
import { formatAge, formatSize, printable } from '../cli/units.js';

/**
 * The report as the reviewer reads it; `refusals` says why accept would
 * refuse an upload that is complete (buildq show says the same).
 */
export function formatIncomingReport(report: IncomingReport, waitSeconds: number, refusals: ReadonlyMap<IncomingUpload, string> = new Map()): string {
  const lines: string[] = [];
  if (report.uploads.length === 0) lines.push('no uploads in incoming/');
  for (const upload of report.uploads) {
    const name = printable(`${upload.source ?? '?'} ${upload.version ?? '?'}`);
    lines.push(
      `${name.padEnd(28)} ${upload.state.padEnd(8)} ${formatSize(upload.size).padStart(10)} ${formatAge(upload.ageSeconds).padStart(6)}  ` +
        printable(upload.uploader ?? '(no uploader)'),
    );
    const refusal = refusals.get(upload);
    for (const detail of [...uploadDetails(upload, waitSeconds), ...(refusal === undefined ? [] : [`accept would refuse it: ${refusal}`])]) {
      lines.push(`    ${printable(detail)}`);
    }
  }
  if (report.problems.length > 0) {
    lines.push('', 'Problems in incoming/ (buildq clean-incoming moves them to rejected/ with the reason):');
    lines.push(...report.problems.map(fileLine));
  }
  if (report.arriving.length > 0) {
    lines.push('', `Arriving (reported as problems after Upload-Wait-Seconds, ${waitSeconds} s):`);
    lines.push(...report.arriving.map(fileLine));
  }
  return `${lines.join('\n')}\n`;
}

function uploadDetails(upload: IncomingUpload, waitSeconds: number): string[] {
  const details: string[] = [];
  if (upload.check.state === 'incomplete') details.push(`waiting for ${upload.check.waitingFor.join(', ')}`);
  if (upload.check.state === 'invalid') details.push(...upload.check.reasons);
  if (upload.overdue) {
    details.push(`overdue: unchanged for longer than Upload-Wait-Seconds (${waitSeconds} s); buildq clean-incoming rejects it`);
  }
  return details;
}

function fileLine(file: IncomingFile): string {
  return `  ${displayName(file.name).padEnd(26)} ${file.kind.padEnd(9)} ${formatSize(file.size).padStart(10)} ${formatAge(file.ageSeconds).padStart(6)}  ${printable(file.reason)}`;
}
