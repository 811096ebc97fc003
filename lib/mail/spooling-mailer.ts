/**
 * The mailer of the SMTP and sendmail transports. `send` composes the
 * notice, writes it into the spool as this process's claim (spool.ts) and
 * makes one attempt of bounded time; the spool keeps whatever the server did
 * not take, and the Delivery says so in `failure`. Once a server was found
 * unreachable, new notices are spooled without an attempt for a minute, so a
 * dead server costs each pipeline step a file write, not a connection timeout.
 */
import { describeError } from '../errors.js';
import { attemptClaimed, type AttemptOutcome } from './attempt.js';
import { FIRST_RETRY_SECONDS } from './backoff.js';
import { composeMessage } from './compose.js';
import { SpoolFlusher, type DueFlush, type FlushOptions, type FlushReport } from './flush.js';
import type { FarmMailer } from './mailer.js';
import type { MailSettings, Notice } from './messages.js';
import type { SpooledMail } from './spool-file.js';
import type { MailSpool } from './spool.js';
import type { Delivery } from './transport.js';
import { envelopeOf, type WireTransport } from './wire.js';

export class SpoolingMailer implements FarmMailer {
  readonly description: string;
  readonly #spool: MailSpool;
  readonly #transport: WireTransport;
  readonly #flusher: SpoolFlusher;
  /** Until when new notices skip their first attempt, and why. */
  #unreachable: { until: number; reason: string } | undefined;

  constructor(
    readonly settings: MailSettings,
    spool: MailSpool,
    transport: WireTransport,
  ) {
    this.description = transport.description;
    this.#spool = spool;
    this.#transport = transport;
    this.#flusher = new SpoolFlusher(spool, transport);
  }

  async send(notice: Notice): Promise<Delivery & { failure?: string }> {
    const { message, skipped } = notice;
    const envelope = envelopeOf(message);
    if (envelope.to.length === 0) return { id: undefined, skipped };
    try {
      const created = new Date();
      const raw = await composeMessage(message, created);
      const mail: SpooledMail = { messageId: message.messageId, subject: message.subject, envelope, created, attempts: 0, nextAttempt: created };
      const paused = this.#unreachable;
      if (paused !== undefined && Date.now() < paused.until) {
        const nextAttempt = new Date(paused.until);
        const path = await this.#spool.storeWaiting({ ...mail, nextAttempt, lastError: `not tried: ${paused.reason}` }, raw);
        return { id: path, skipped, failure: `spooled in ${path} without an attempt until ${nextAttempt.toISOString()}: ${paused.reason}` };
      }
      const claim = await this.#spool.storeClaimed(mail, raw);
      const outcome = this.#observe(await attemptClaimed(this.#spool, this.#transport, claim, mail, raw));
      return deliveryOf(outcome, skipped);
    } catch (error) {
      return { id: undefined, skipped, failure: describeError(error) };
    }
  }

  async flushDue(signal?: AbortSignal): Promise<DueFlush> {
    return this.#observeAll(await this.#flusher.flushDue(signal));
  }

  async flush(options?: Omit<FlushOptions, 'all'>): Promise<FlushReport> {
    return this.#observeAll(await this.#flusher.flush(options));
  }

  #observeAll<T extends FlushReport>(report: T): T {
    for (const outcome of report.outcomes) if ('sentTo' in outcome) this.#observe(outcome);
    return report;
  }

  /** Notes whether the server answered, for the next notices. */
  #observe(outcome: AttemptOutcome): AttemptOutcome {
    if (outcome.unreachable) this.#unreachable = { until: Date.now() + FIRST_RETRY_SECONDS * 1000, reason: outcome.error ?? this.description };
    else if (outcome.state !== 'released') this.#unreachable = undefined;
    return outcome;
  }
}

function deliveryOf(outcome: AttemptOutcome, skipped: Notice['skipped']): Delivery & { failure?: string } {
  const sent = outcome.sentTo.length === 0 ? '' : `sent to ${outcome.sentTo.join(', ')}, but `;
  switch (outcome.state) {
    case 'sent':
      return { id: outcome.messageId, skipped };
    case 'deferred':
      return {
        id: outcome.path,
        skipped,
        failure:
          `${sent}spooled in ${outcome.path ?? 'the spool'} for another attempt at ` +
          `${outcome.nextAttempt?.toISOString() ?? '?'}: ${outcome.error ?? ''}`,
      };
    case 'failed':
      return { id: outcome.path, skipped, failure: `${sent}refused, kept in ${outcome.path ?? 'the spool'}: ${outcome.error ?? ''}` };
    case 'released':
      return { id: undefined, skipped, failure: 'cancelled, left in the spool' };
  }
}
