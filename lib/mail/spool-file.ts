/**
 * One spooled message as one file: a control stanza with the envelope and
 * the attempts, a blank line, then the composed message byte for byte.
 *
 *     Opkfarm-Spool: 1
 *     Message-ID: <build.0000000001_hello_1.0-1.…@farm.example>
 *     Subject: Build succeeded hello 1.0-1 amd64/all
 *     Envelope-From: buildd@farm.example
 *     Envelope-To: jane@example.org john@example.org
 *     Created: 2026-11-21T14:33:45.123Z
 *     Attempts: 1
 *     Next-Attempt: 2026-11-21T14:34:45.200Z
 *     Last-Error: smtp mail.example.org:587: connect ECONNREFUSED 10.0.0.25:587
 *
 *     <the message, CRLF line ends>
 *
 * Keeping both in one file lets a single rename claim, defer or fail a
 * message whole; the stanza is small, so listing reads only a file's head.
 */
import { FormatError } from '../errors.js';
import { parseSingleStanza, formatStanza, Stanza } from '../formats/control.js';
import { oneLine, type Envelope } from './wire.js';

/** What the spool knows about a message besides its bytes. */
export interface SpooledMail {
  readonly messageId: string;
  readonly subject: string;
  readonly envelope: Envelope;
  readonly created: Date;
  /** Failed attempts so far. */
  readonly attempts: number;
  /** Not to be tried before this time (except by `opkfarm mail flush`). */
  readonly nextAttempt: Date;
  /** Why the last attempt failed. */
  readonly lastError?: string;
}

const FORMAT_VERSION = '1';
const SEPARATOR = Buffer.from('\n\n');
/** More than any stanza this module writes: addresses and subject are capped, the error is one capped line. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** The file content for a message. */
export function formatSpoolFile(mail: SpooledMail, raw: Buffer): Buffer {
  const stanza = new Stanza([
    ['Opkfarm-Spool', FORMAT_VERSION],
    ['Message-ID', oneLine(mail.messageId)],
    ['Subject', oneLine(mail.subject)],
    ['Envelope-From', mail.envelope.from],
    ['Envelope-To', mail.envelope.to.join(' ')],
    ['Created', mail.created.toISOString()],
    ['Attempts', String(mail.attempts)],
    ['Next-Attempt', mail.nextAttempt.toISOString()],
  ]);
  if (mail.lastError !== undefined) stanza.set('Last-Error', oneLine(mail.lastError));
  return Buffer.concat([Buffer.from(formatStanza(stanza)), Buffer.from('\n'), raw]);
}

/** The message's facts from the head of its file (at least up to the blank line); `file` names it in errors. */
export function parseSpoolHead(head: Buffer, file: string): SpooledMail {
  return parseStanza(head.subarray(0, headEnd(head, file)).toString('utf8'), file);
}

/** The facts and the message bytes of a whole file. */
export function parseSpoolFile(content: Buffer, file: string): { mail: SpooledMail; raw: Buffer } {
  const end = headEnd(content, file);
  return { mail: parseStanza(content.subarray(0, end).toString('utf8'), file), raw: content.subarray(end + 1) };
}

/** The offset just past the stanza's last line: the blank line that ends it starts there. */
function headEnd(content: Buffer, file: string): number {
  const separator = content.indexOf(SEPARATOR);
  if (separator < 0) throw new FormatError('mail.spool-file', file, 'no blank line after the spool fields: not a spool file, or cut short');
  return separator + 1;
}

function parseStanza(text: string, file: string): SpooledMail {
  const stanza = parseSingleStanza(text, { file });
  const field = (name: string): string => {
    const value = stanza.get(name);
    if (value === undefined || value === '') throw new FormatError('mail.spool-file', file, `missing ${name}`);
    return value;
  };
  if (field('Opkfarm-Spool') !== FORMAT_VERSION) {
    throw new FormatError('mail.spool-file', file, `unknown spool format ${JSON.stringify(field('Opkfarm-Spool'))}`);
  }
  const attempts = field('Attempts');
  if (!/^[0-9]+$/.test(attempts)) throw new FormatError('mail.spool-file', file, `Attempts is not a number: ${JSON.stringify(attempts)}`);
  const to = field('Envelope-To').split(' ').filter((address) => address !== '');
  const lastError = stanza.get('Last-Error');
  return {
    messageId: field('Message-ID'),
    subject: stanza.get('Subject') ?? '',
    envelope: { from: field('Envelope-From'), to },
    created: time(field('Created'), 'Created', file),
    attempts: Number(attempts),
    nextAttempt: time(field('Next-Attempt'), 'Next-Attempt', file),
    ...(lastError === undefined ? {} : { lastError }),
  };
}

function time(value: string, name: string, file: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new FormatError('mail.spool-file', file, `${name} is not a time: ${JSON.stringify(value)}`);
  return date;
}
