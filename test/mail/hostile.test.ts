/**
 * Untrusted upload fields on the wire: a Maintainer, Changed-By, Source and
 * Version with CR/LF, NUL, overlong values and unparseable addresses reach
 * a real SMTP server as plain header text or not at all. Checked on the DATA
 * the server received, not on the message object.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rejectedMessage } from '../../lib/mail/messages.js';
import { makeMailFarm, plainSmtp, removeMailFarm, type MailFarm } from './fixtures.js';
import { header, parseEml } from './eml.js';
import { headerSection, SmtpSink } from './smtp-sink.js';

let farm: MailFarm | undefined;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.stop();
  sink = undefined;
  await removeMailFarm(farm);
  farm = undefined;
});

const LONG_NAME = 'N'.repeat(3000);

describe('hostile upload fields', () => {
  it('add no header and no recipient on the wire, and unparseable addresses are reported, not sent', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(plainSmtp(sink.port));
    const mailer = farm.mailer();
    const hostile = [
      {
        maintainer: 'Evil <evil@example.org>\r\nBcc: victim@example.net',
        changedBy: 'Up Loader <up@example.org>',
        source: `evil\r\nX-Injected: 1\r\n${'A'.repeat(5000)}`,
        version: '1.0\nBcc: victim@example.net\u0000',
        remarks: 'Fix this.\r\n.\r\nMAIL FROM:<victim@example.net>\r\nX-Injected: 2',
      },
      {
        maintainer: `${LONG_NAME} <long@example.org>`,
        changedBy: 'Nul <nul@example.org>\u0000',
        source: 'evil\u0000\u2028X-Injected: 3',
        version: '1.0',
        remarks: 'x',
      },
      { maintainer: 'victim@example.net, other@example.net', changedBy: 'not an address', source: 'evil', version: '1.0', remarks: 'x' },
    ];
    const deliveries = [];
    for (const fields of hostile) {
      deliveries.push(
        await mailer.send(rejectedMessage(mailer.settings, { key: '0000000008_evil_1.0', keptIn: '/srv/rejected/0000000008_evil_1.0', ...fields })),
      );
    }

    expect(deliveries.map((delivery) => [delivery.failure, delivery.skipped.map((skipped) => `${skipped.field}: ${skipped.reason}`)])).toEqual([
      [undefined, ['Maintainer: contains a line break']],
      [undefined, ['Maintainer: is longer than 254 characters', 'Changed-By: contains a NUL byte']],
      [undefined, ['Maintainer: names more than one address', 'Changed-By: is not an address: a name needs the address in <...>']],
    ]);
    expect(sink.received.map((mail) => mail.to)).toEqual([['up@example.org', 'uploads@lists.example'], ['uploads@lists.example'], ['uploads@lists.example']]);

    for (const mail of sink.received) {
      const headers = headerSection(mail.raw);
      expect(headers).not.toMatch(/^(X-Injected|Bcc|MAIL FROM)\s*:/im);
      // "victim" may appear as text inside a value (X-Opkfarm-Version), never in an address field or the envelope.
      const addressFields = headers.replace(/\r\n[ \t]/g, ' ').split('\r\n').filter((line) => /^(to|cc|bcc|from|reply-to|sender):/i.test(line));
      expect(addressFields.join('\n')).not.toContain('victim');
      expect(mail.to.join(' ')).not.toContain('victim');
      expect(headers).not.toContain(LONG_NAME.slice(0, 300));
      expect(mail.raw.includes(0)).toBe(false);
      // Every line ends in CRLF and none is longer than RFC 5322's 998 octets.
      const text = mail.raw.toString('latin1');
      expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      expect(Math.max(...text.split('\r\n').map((line) => line.length))).toBeLessThanOrEqual(998);
      expect(mail.parsed.headers.get('bcc')).toBeUndefined();
      expect(mail.parsed.headers.has('x-injected')).toBe(false);
    }
    const [first, second] = sink.received.map((mail) => mail.parsed);
    // mailparser leaves encoded words in unknown fields as they are; eml.ts decodes them.
    const sources = sink.received.map((mail) => header(parseEml(mail.raw.toString('utf8')), 'x-opkfarm-source'));
    expect(sources[0]).toMatch(/^evil X-Injected: 1 A+…$/);
    expect([...(sources[0] ?? '')]).toHaveLength(200);
    expect(first?.headers.get('x-opkfarm-version')).toBe('1.0 Bcc: victim@example.net');
    expect([...(first?.subject ?? '')]).toHaveLength(200);
    expect(addressesOf(first?.to)).toEqual(['up@example.org']);
    // The body arrives whole: a lone "." line does not end the DATA, the injected lines stay body text.
    expect(first?.text).toBe(
      'Fix this.\n.\nMAIL FROM:<victim@example.net>\nX-Injected: 2\n\nThe upload is kept in /srv/rejected/0000000008_evil_1.0\n',
    );
    expect(sources[1]).toBe('evil X-Injected: 3');
    expect(addressesOf(second?.to)).toEqual([]);
  });
});

function addressesOf(field: { value: { address?: string }[] } | { value: { address?: string }[] }[] | undefined): string[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return objects.flatMap((object) => object.value.map((address) => address.address ?? ''));
}
