/**
 * The farm's mailer: the settings and transport the configuration names,
 * behind one `send`. Mail never stalls the pipeline: a notice that cannot be
 * sent is reported to the caller, who logs it and goes on.
 */
import type { FarmConfig } from '../config.js';
import { EnvironmentError } from '../errors.js';
import type { QueueLayout } from '../layout.js';
import { mailSettings, type MailSettings, type Notice } from './messages.js';
import { OutboxTransport } from './outbox.js';
import { deliver, type Delivery, type MailTransport } from './transport.js';

export interface Mailer {
  readonly settings: MailSettings;
  /** Sends a notice; resolves with where it went, never rejects (the error is in `failure`). */
  send(notice: Notice): Promise<Delivery & { failure?: string }>;
}

/**
 * The mailer of a farm. Only the outbox transport exists yet: a farm
 * configured for SMTP or sendmail is refused rather than left believing its
 * mail goes out.
 */
export function createMailer(config: FarmConfig, layout: QueueLayout): Mailer {
  if (config.mail.transport !== 'outbox') {
    throw new EnvironmentError(
      `Mail-Transport: ${config.mail.transport} is not implemented yet; set Mail-Transport: outbox (mail is written to ${layout.outbox})`,
    );
  }
  const settings = mailSettings({ from: config.mail.from, copyTo: config.mail.copyTo });
  const transport: MailTransport = new OutboxTransport(layout.outbox);
  return {
    settings,
    async send(notice) {
      try {
        return await deliver(transport, notice);
      } catch (error) {
        return { id: undefined, skipped: notice.skipped, failure: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
