/**
 * A MailMessage as RFC 5322 bytes, through nodemailer's MailComposer: every
 * transport (outbox, SMTP, sendmail) sends exactly these bytes.
 *
 * nodemailer encodes and folds headers itself; this module still refuses a
 * header name or value with a control character, so a message built by code
 * other than messages.ts cannot add a header line either.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type { MailMessage } from './messages.js';

const HEADER_NAME = /^[A-Za-z0-9-]+$/;
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/** The message as RFC 5322 bytes with CRLF line ends, dated `date`; throws on a header line break. */
export async function composeMessage(message: MailMessage, date: Date = new Date()): Promise<Buffer> {
  checkHeaders(message);
  const composer = new MailComposer({
    from: { ...message.from },
    // Copies: nodemailer normalizes address objects in place.
    to: message.to.map((address) => ({ ...address })),
    ...(message.cc && message.cc.length > 0 ? { cc: message.cc.map((address) => ({ ...address })) } : {}),
    subject: message.subject,
    text: message.text,
    headers: { ...message.headers },
    messageId: message.messageId,
    ...(message.inReplyTo === undefined ? {} : { inReplyTo: message.inReplyTo }),
    ...(message.references === undefined ? {} : { references: [...message.references] }),
    date,
    attachments: (message.attachments ?? []).map((attachment) => ({
      ...attachment,
      content: 'content' in attachment ? Buffer.from(attachment.content) : undefined,
      contentTransferEncoding: 'base64',
    })),
    // Text parts always quoted-printable: long log lines and any byte survive every relay.
    encoding: 'quoted-printable',
    newline: 'win',
    disableUrlAccess: true,
  });
  return composer.compile().build();
}

/** Refuses any header-bound field that could end its header line. */
function checkHeaders(message: MailMessage): void {
  for (const name of Object.keys(message.headers)) {
    if (!HEADER_NAME.test(name)) throw new Error(`mail header name ${JSON.stringify(name)} is not a plain field name`);
  }
  const addresses = [message.from, ...message.to, ...(message.cc ?? [])];
  const values: [string, string | undefined][] = [
    ['Subject', message.subject],
    ['Message-ID', message.messageId],
    ['In-Reply-To', message.inReplyTo],
    ...(message.references ?? []).map((id): [string, string] => ['References', id]),
    ...addresses.map((address): [string, string] => ['address', address.address]),
    ...addresses.map((address): [string, string | undefined] => ['address name', address.name]),
    ...(message.attachments ?? []).map((attachment): [string, string] => ['attachment filename', attachment.filename]),
    ...Object.entries(message.headers),
  ];
  for (const [name, value] of values) {
    if (value !== undefined && CONTROL.test(value)) {
      throw new Error(`mail ${name} contains a control character: ${JSON.stringify(value)}`);
    }
  }
}
