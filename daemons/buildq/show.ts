/** `buildq show`: an upload's .changes, files, source package and builds, for a reviewer to decide. */
import { formatStanza } from '../../lib/formats/control.js';
import type { IncomingUpload } from '../../lib/queue/incoming.js';
import type { UploadReview } from '../../lib/queue/upload-review.js';
import { printable } from '../cli/units.js';

/** Everything after the .changes text itself. */
export function formatReview(upload: IncomingUpload, review: UploadReview): string {
  const lines = [`State: ${upload.state}`];
  if (upload.check.state === 'invalid') lines.push(...upload.check.reasons.map((reason) => `  ${reason}`));
  if (upload.check.state === 'incomplete') lines.push(`Waiting for: ${upload.check.waitingFor.join(', ')}`);

  lines.push('Files:');
  for (const file of review.files) {
    const size = file.size === undefined ? 'absent' : `${file.size} bytes`;
    const listed = file.listedSize === undefined ? '' : ` of ${file.listedSize} listed`;
    lines.push(`  ${file.name}: ${size}${listed}, ${file.status === 'ok' ? 'size and hashes match' : file.status}`);
  }

  const { source } = review;
  if (source) {
    lines.push('Source control:', ...indent(formatStanza(source.control)));
    lines.push('Change log entry:', ...indent(source.changelog.lines.join('\n')), `   -- ${source.changelog.changedBy}  ${source.changelog.date}`);
    lines.push('Binary packages:');
    for (const binary of source.binaryPackages) {
      const summary = binary.control.get('Description')?.split('\n')[0] ?? '';
      lines.push(`  ${binary.name} (Architecture: ${binary.architectures.join(' ')}; Platform: ${binary.platforms.join(' ')}): ${summary}`);
    }
  }
  if (review.queues) {
    lines.push(`Build queues: ${review.queues.map((queue) => queue.queue).join(', ')}`);
    for (const { queue, builds } of review.queues) {
      if (builds.length === 0 && source) lines.push(`  ${queue}: no binary package matches its architectures`);
      for (const build of builds) lines.push(`  ${queue}: ${build.architecture}/${build.platform}: ${build.packages.join(' ')}`);
    }
  }
  for (const problem of review.problems) lines.push(`Cannot show: ${problem}`);
  if (review.refusal !== undefined) lines.push(`Accept would refuse it: ${review.refusal}`);
  return `${lines.map((line) => printable(line)).join('\n')}\n`;
}

function indent(text: string): string[] {
  return text.replace(/\n$/, '').split('\n').map((line) => `  ${line}`);
}
