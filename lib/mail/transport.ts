/**
 * How a notice leaves the farm as a MailMessage: the outbox (outbox.ts)
 * composes and writes it. The SMTP and sendmail transports take composed
 * bytes instead (wire.ts), because the spool between stores the bytes.
 */
import type { MailMessage, Notice, SkippedRecipient } from './messages.js';

/** Sends one message; `id` says where it went (the outbox file, a queue id). */
export interface MailTransport {
  send(message: MailMessage): Promise<{ id: string }>;
}

/** What became of a notice: where it was sent (undefined: nobody to send to) and who was left out. */
export interface Delivery {
  readonly id: string | undefined;
  readonly skipped: readonly SkippedRecipient[];
}

/** Sends a notice if it has any recipient; the caller logs `skipped` and an undefined `id`. */
export async function deliver(transport: MailTransport, notice: Notice): Promise<Delivery> {
  const { message, skipped } = notice;
  if (message.to.length === 0 && (message.cc ?? []).length === 0) return { id: undefined, skipped };
  const { id } = await transport.send(message);
  return { id, skipped };
}
