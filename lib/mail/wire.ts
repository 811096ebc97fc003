/**
 * Transports that put composed bytes on the wire: SMTP (smtp.ts), the local
 * sendmail program (sendmail.ts), and the outbox for mail drained from the
 * spool. The spool hands each exactly the bytes compose.ts built plus an
 * explicit envelope, so what the spool holds is what is sent; a transport
 * reports which recipients took the message, or throws a DeliveryError that
 * says whether trying again can help.
 */
import type { MailMessage } from './messages.js';

/** The SMTP envelope: MAIL FROM and RCPT TO, plain addresses. */
export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
}

/** A recipient the server or program would not take. */
export interface RecipientRefusal {
  readonly recipient: string;
  /** The server's reply, one line. */
  readonly reason: string;
  /** Refused for good (5xx): another attempt would be refused again. */
  readonly permanent: boolean;
}

/** A message handed over: to every recipient of the envelope but those in `refused`. */
export interface WireDelivery {
  /** What the server or program answered, for logs. */
  readonly response: string;
  readonly refused: readonly RecipientRefusal[];
}

export interface WireTransport {
  /** Where mail goes, for messages: `smtp mail.example.org:587`, `sendmail /usr/sbin/sendmail`. */
  readonly description: string;
  /** Sends `raw` as is; a cancelled `signal` abandons the attempt (a DeliveryError with `aborted`). */
  send(raw: Buffer, envelope: Envelope, signal?: AbortSignal): Promise<WireDelivery>;
}

export interface DeliveryFailure {
  /** The message itself was refused (5xx): another attempt would be refused again. */
  readonly permanent: boolean;
  /** Nothing reached a server that would take mail (down, timing out, TLS or login refused): no other message will get through now either. */
  readonly unreachable: boolean;
  /** Each recipient's refusal, when every recipient was refused. */
  readonly refused?: readonly RecipientRefusal[];
  /** Cancelled because the process is stopping: the attempt does not count. */
  readonly aborted?: boolean;
}

/** A message that was not sent, and why. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';

  constructor(
    message: string,
    readonly failure: DeliveryFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The envelope of a message: the From address, and every To and Cc address once. */
export function envelopeOf(message: MailMessage): Envelope {
  const to: string[] = [];
  for (const { address } of [...message.to, ...(message.cc ?? [])]) {
    if (!to.some((seen) => seen.toLowerCase() === address.toLowerCase())) to.push(address);
  }
  return { from: message.from.address, to };
}

/** One line of a server's or program's words: controls become spaces, the length is capped. */
export function oneLine(text: string, max = 500): string {
  const line = text.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
