/** The log lines of a pass over the mail spool: one per message retried or skipped, in logfmt. */
import type { DueFlush } from '../../lib/mail/flush.js';
import { logEvent } from './log.js';

/** Logs `mail-<state>` per message, `mail-claim-returned` per dead sender's claim given back, and a spool error. */
export function logMailFlush(program: string, report: DueFlush): void {
  for (const name of report.recovered) logEvent(program, 'mail-claim-returned', { name });
  for (const outcome of report.outcomes) {
    logEvent(program, `mail-${outcome.state}`, {
      name: outcome.name,
      message: outcome.messageId,
      next: 'nextAttempt' in outcome ? outcome.nextAttempt?.toISOString() : undefined,
      error: outcome.error,
    });
  }
  if (report.error !== undefined) logEvent(program, 'mail-spool-error', { error: report.error });
}
