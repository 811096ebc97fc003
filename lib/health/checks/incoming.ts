/**
 * uploads/incoming/: uploads waiting for review (complete ones are work for
 * a reviewer), uploads left waiting or invalid past Upload-Wait-Seconds, and
 * entries that are no part of an upload (links, special files, strays).
 */
import { displayName, scanIncoming } from '../../queue/incoming.js';
import type { Finding, HealthCheck, HealthStatus } from '../types.js';
import { formatAge } from '../../units.js';

export const incomingCheck: HealthCheck = {
  name: 'incoming',
  async run({ layout, config, now }): Promise<Finding> {
    const report = await scanIncoming(layout, { waitSeconds: config.uploadWaitSeconds, now: now.getTime() });
    const overdue = report.uploads.filter((upload) => upload.overdue);
    const complete = report.uploads.filter((upload) => upload.state === 'complete');
    const details = [
      ...overdue.map((upload) => `${displayName(upload.changesPath.split('/').pop() ?? '')}: ${upload.state} for ${formatAge(upload.ageSeconds)} (buildq clean-incoming)`),
      ...report.problems.map((problem) => `${displayName(problem.name)}: ${problem.reason}`),
    ];
    const status: HealthStatus = details.length > 0 ? 'warning' : 'ok';
    return {
      status,
      summary: `${complete.length} uploads ready for review, ${report.uploads.length - complete.length} waiting or invalid, ${report.problems.length} problem entries`,
      details,
      metrics: [
        { name: 'incoming_uploads', help: 'Uploads in incoming/, by state.', labels: { state: 'complete' }, value: complete.length },
        { name: 'incoming_uploads', help: 'Uploads in incoming/, by state.', labels: { state: 'waiting-or-invalid' }, value: report.uploads.length - complete.length },
        { name: 'incoming_problems', help: 'Entries of incoming/ that are no part of an upload.', value: report.problems.length },
      ],
    };
  },
};
