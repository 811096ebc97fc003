/**
 * Mail that has not left: messages waiting in the retry spool (a mail server
 * down or refusing) and messages given up on in mail-spool/failed/.
 */
import { spoolStatus } from '../../mail/spool.js';
import type { Finding, HealthCheck } from '../types.js';
import { formatAge } from '../../units.js';

/** Mail waiting longer than this is a warning: the server has been unreachable for an hour. */
const WAITING_WARNING_SECONDS = 3600;

export const mailCheck: HealthCheck = {
  name: 'mail',
  async run({ layout, now }): Promise<Finding> {
    const spool = await spoolStatus(layout, now);
    const oldest = spool.oldestSeconds ?? 0;
    const details: string[] = [];
    if (spool.waiting > 0 && oldest >= WAITING_WARNING_SECONDS) {
      details.push(`${spool.waiting} messages waiting, the oldest for ${formatAge(oldest)} (opkfarm mail list; opkfarm mail flush)`);
    }
    if (spool.failed > 0) details.push(`${spool.failed} messages given up on in ${layout.mailSpoolFailed} (opkfarm mail flush --failed once the cause is fixed)`);
    return {
      status: details.length > 0 ? 'warning' : 'ok',
      summary: `${spool.waiting} waiting${spool.waiting > 0 ? ` (oldest ${formatAge(oldest)})` : ''}, ${spool.failed} failed`,
      details,
      metrics: [
        { name: 'mail_waiting', help: 'Messages waiting in the retry spool.', value: spool.waiting },
        { name: 'mail_failed', help: 'Messages given up on.', value: spool.failed },
        { name: 'mail_oldest_seconds', help: 'Age of the oldest waiting message.', value: oldest },
      ],
    };
  },
};
