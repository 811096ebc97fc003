/**
 * `buildq clean-incoming`: everything scanIncoming reports as a problem goes
 * to rejected/ with its reason. An overdue upload is rejected whole, with
 * rejectUpload (its files go along), and its people are told through
 * `onUploadRejected`; every other problem entry is moved alone with
 * rejectIncomingFile. Nothing is deleted.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueLayout } from '../layout.js';
import { displayName, type IncomingReport, type IncomingUpload } from './incoming.js';
import { rejectUpload, type RejectedUpload } from './reject.js';
import { rejectIncomingFile } from './reject-file.js';

export interface CleanedEntry {
  /** The .changes of an overdue upload, or the problem entry's name. */
  readonly name: string;
  readonly reason: string;
  readonly rejected: RejectedUpload;
}

/** Moves every problem of `report` to rejected/, adding `remarks` to each reason; returns what moved. */
export async function cleanIncoming(
  layout: QueueLayout,
  report: IncomingReport,
  options: { waitSeconds: number; remarks: string; onUploadRejected?: (upload: IncomingUpload, rejected: RejectedUpload, remarks: string) => Promise<void> },
): Promise<CleanedEntry[]> {
  const cleaned: CleanedEntry[] = [];
  for (const upload of report.uploads.filter((candidate) => candidate.overdue)) {
    const reason = overdueReason(upload, options.waitSeconds);
    const remarks = [options.remarks.trim(), reason].filter((line) => line !== '').join('\n\n');
    const rejected = await rejectUpload(layout, upload.changesPath, upload.check, remarks);
    await options.onUploadRejected?.(upload, rejected, remarks);
    cleaned.push({ name: displayName(upload.changesPath.slice(layout.incoming.length + 1)), reason, rejected });
  }
  for (const problem of report.problems) {
    // An overdue upload may have taken it along already.
    if ((await lstat(join(layout.incoming, problem.name)).catch(() => undefined)) === undefined) continue;
    const rejected = await rejectIncomingFile(layout, problem.name, problem.reason, options.remarks);
    cleaned.push({ name: displayName(problem.name), reason: problem.reason, rejected });
  }
  return cleaned;
}

/** Why an overdue upload goes: what it still lacks (or what is wrong) and for how long. */
export function overdueReason(upload: IncomingUpload, waitSeconds: number): string {
  const what =
    upload.check.state === 'incomplete'
      ? `waited for ${upload.check.waitingFor.join(', ')}`
      : upload.check.state === 'invalid'
        ? `stayed invalid (${upload.check.reasons.join('; ')})`
        : 'waited';
  return `The upload ${what} for ${upload.ageSeconds} seconds, longer than this farm's Upload-Wait-Seconds (${waitSeconds}).`;
}
