/**
 * The farm's mailer: the settings and transport the configuration names,
 * behind one `send`. Mail never stalls the pipeline: a notice that cannot be
 * sent now is reported to the caller, who logs it and goes on.
 *
 * - `outbox`: each notice is written into outbox/ at once (outbox.ts).
 * - `smtp`, `sendmail`: each notice goes through the retry spool
 *   (spooling-mailer.ts): tried once at once, and whatever is not handed over
 *   waits in mail-spool/ for `flushDue` (the daemons run it on every rescan)
 *   or `opkfarm mail flush`.
 *
 * Every mailer can flush the spool, so mail spooled under one transport is
 * still delivered after the configuration names another (into the outbox,
 * for `outbox`).
 */
import type { FarmConfig } from '../config.js';
import { describeError } from '../errors.js';
import type { QueueLayout } from '../layout.js';
import { SpoolFlusher, type DueFlush, type FlushOptions, type FlushReport } from './flush.js';
import { mailSettings, type MailSettings, type Notice } from './messages.js';
import { OutboxTransport, outboxWire } from './outbox.js';
import { openSendmailTransport } from './sendmail.js';
import { openSmtpTransport } from './smtp.js';
import { MailSpool } from './spool.js';
import { SpoolingMailer } from './spooling-mailer.js';
import { deliver, type Delivery } from './transport.js';

export interface Mailer {
  readonly settings: MailSettings;
  /** Sends a notice; resolves with where it went, never rejects (the error is in `failure`). */
  send(notice: Notice): Promise<Delivery & { failure?: string }>;
}

/** The mailer createMailer makes: it also retries what waits in the spool. */
export interface FarmMailer extends Mailer {
  /** Where mail goes: `outbox DIR`, `smtp HOST:PORT`, `sendmail COMMAND`. */
  readonly description: string;
  /** Retries the spooled messages whose next attempt has come; never rejects. Skipped while a flush of this mailer runs. */
  flushDue(signal?: AbortSignal): Promise<DueFlush>;
  /** Retries every spooled message now (`opkfarm mail flush`); throws when the spool cannot be read or written. */
  flush(options?: Omit<FlushOptions, 'all'>): Promise<FlushReport>;
}

/**
 * The mailer of a farm. Reads the SMTP password and CA files and checks the
 * sendmail program now: a setting that cannot work throws an
 * EnvironmentError before the caller changes anything.
 */
export function createMailer(config: FarmConfig, layout: QueueLayout): FarmMailer {
  const settings = mailSettings({ from: config.mail.from, copyTo: config.mail.copyTo });
  const spool = new MailSpool(layout, { leaseSeconds: config.leaseSeconds });
  switch (config.mail.transport) {
    case 'outbox':
      return outboxMailer(settings, new OutboxTransport(layout.outbox), spool);
    case 'smtp':
      return new SpoolingMailer(settings, spool, openSmtpTransport(config.mail.smtp));
    case 'sendmail':
      return new SpoolingMailer(settings, spool, openSendmailTransport(config.mail.sendmail));
  }
}

function outboxMailer(settings: MailSettings, outbox: OutboxTransport, spool: MailSpool): FarmMailer {
  const flusher = new SpoolFlusher(spool, outboxWire(outbox));
  return {
    settings,
    description: `outbox ${outbox.directory}`,
    async send(notice) {
      try {
        return await deliver(outbox, notice);
      } catch (error) {
        return { id: undefined, skipped: notice.skipped, failure: describeError(error) };
      }
    },
    flushDue: (signal) => flusher.flushDue(signal),
    flush: (options) => flusher.flush(options),
  };
}
