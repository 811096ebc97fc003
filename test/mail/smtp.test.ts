/**
 * The SMTP transport against a real SMTP server on 127.0.0.1: every notice
 * kind arrives with the right envelope, headers, threading and body (parsed
 * back with mailparser); STARTTLS with a certificate made for the test,
 * implicit TLS, and a login; and what happens when TLS or the login fails.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressObject } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { spoolStatus } from '../../lib/mail/spool.js';
import { allNotices, FARM_FROM, LIST, makeMailFarm, plainSmtp, removeMailFarm, spoolNames, type MailFarm } from './fixtures.js';
import { makeCertificate, SmtpSink } from './smtp-sink.js';

let farm: MailFarm | undefined;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.stop();
  sink = undefined;
  await removeMailFarm(farm);
  farm = undefined;
});

const ACCEPT_ID = '<accept.0000000042_hello_1.0-1@farm.example>';

describe('the SMTP transport', () => {
  it('delivers every notice kind with its envelope, recipients, threading, filter headers and body', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(plainSmtp(sink.port));
    const mailer = farm.mailer();
    const deliveries = [];
    for (const notice of await allNotices(mailer.settings, farm.directory)) deliveries.push(await mailer.send(notice));

    expect(deliveries.map((delivery) => delivery.failure)).toEqual([undefined, undefined, undefined, undefined]);
    expect(deliveries[0]?.id).toBe(ACCEPT_ID);
    expect(sink.received).toHaveLength(4);
    for (const mail of sink.received) {
      expect(mail.from).toBe(FARM_FROM);
      expect(mail.to).toEqual(['jane@example.org', 'john@example.org', LIST]);
      expect(mail.parsed.from?.value).toEqual([{ name: 'opkfarm', address: FARM_FROM }]);
      expect(addresses(mail.parsed.to)).toEqual(['Jane Doe <jane@example.org>', 'John Roe <john@example.org>']);
      expect(addresses(mail.parsed.cc)).toEqual([LIST]);
      expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated');
      expect(mail.parsed.headers.get('x-opkfarm-source')).toBe('hello');
      expect(mail.parsed.headers.get('x-opkfarm-version')).toBe('1.0-1');
      expect(mail.parsed.date).toBeInstanceOf(Date);
    }
    const [accepted, rejected, built, installed] = sink.received.map((mail) => mail.parsed);

    expect(accepted?.subject).toBe('Accepted hello 1.0-1');
    expect(accepted?.messageId).toBe(ACCEPT_ID);
    expect(accepted?.inReplyTo).toBeUndefined();
    expect(accepted?.headers.get('x-opkfarm-status')).toBe('accepted');
    expect(accepted?.text).toBe('Welcome aboard.\n\nFormat: 1.8\nSource: hello\n');

    expect(rejected?.subject).toBe('Rejected hello 1.0-1');
    expect(rejected?.messageId).toBe('<reject.0000000042_hello_1.0-1@farm.example>');
    expect(rejected?.headers.get('x-opkfarm-status')).toBe('rejected');
    expect(rejected?.text).toBe('Add a Homepage.\n\nThe upload is kept in /srv/rejected/0000000042_hello_1.0-1\n');

    expect(built?.subject).toBe('Build succeeded hello 1.0-1 amd64-linux-glibc/all');
    expect(built?.messageId).toMatch(/^<build\.0000000042_hello_1\.0-1\.[a-z0-9]+\.[0-9a-f]{12}@farm\.example>$/);
    expect(built?.inReplyTo).toBe(ACCEPT_ID);
    expect(built?.references).toBe(ACCEPT_ID);
    expect(built?.headers.get('x-opkfarm-status')).toBe('built');
    expect(built?.headers.get('x-opkfarm-architecture')).toBe('amd64-linux-glibc');
    expect(built?.headers.get('x-opkfarm-platform')).toBe('all');
    expect(built?.text).toContain('Status: succeeded\nHost: builder1\nDuration: 42 s\n');
    expect(built?.text).toContain('configure\nmake\nmake install\n');
    expect(built?.text).toContain(
      'until the upload is installed, then in /srv/opkfarm/archive/logs/hello/0000000042_hello_1.0-1_amd64-linux-glibc_all.log\n',
    );
    expect(built?.attachments.map((attachment) => [attachment.filename, attachment.content.toString()])).toEqual([
      ['hello_1.0-1_amd64-linux-glibc_all.log', 'configure\nmake\nmake install\n'],
    ]);

    expect(installed?.subject).toBe('Installed hello 1.0-1 in dev/trunk');
    expect(installed?.inReplyTo).toBe(ACCEPT_ID);
    expect(installed?.headers.get('x-opkfarm-status')).toBe('installed');
    expect(installed?.text).toBe('hello 1.0-1 is installed in dev/trunk.\n\n  hello_1.0-1_amd64-linux-glibc_all.opk  2048 bytes\n');
    expect(installed?.messageId).not.toBe(built?.messageId);

    // Nothing waits: a message handed over leaves no trace in the spool or the outbox.
    expect(await spoolStatus(farm.layout)).toEqual({ waiting: 0, failed: 0, oldestSeconds: undefined });
    expect(await spoolNames(farm.layout.mailSpoolClaims)).toEqual([]);
  });

  it('sends over STARTTLS, verifying the server against Mail-SMTP-CA-File, and logs in', async () => {
    farm = await makeMailFarm([]);
    const certificate = await makeCertificate(farm.directory);
    sink = await SmtpSink.start({ tls: certificate, login: { user: 'farm', password: 's3cret pass' } });
    const passwordFile = join(farm.directory, 'smtp-password');
    await writeFile(passwordFile, 's3cret pass\n', { mode: 0o600 });
    const fields = [
      'Mail-Transport: smtp',
      'Mail-SMTP-Host: 127.0.0.1',
      `Mail-SMTP-Port: ${sink.port}`,
      'Mail-SMTP-User: farm',
      `Mail-SMTP-Password-File: ${passwordFile}`,
      `Mail-SMTP-CA-File: ${certificate.certFile}`,
    ];
    const mailer = farm.mailer(fields);
    const [accepted] = await allNotices(mailer.settings, farm.directory);
    expect(await mailer.send(accepted!)).toEqual({ id: ACCEPT_ID, skipped: [] });
    expect(sink.received.map((mail) => ({ secure: mail.secure, user: mail.user }))).toEqual([{ secure: true, user: 'farm' }]);

    // A wrong password is the farm's problem, not the message's: it waits in the spool, not in failed/.
    await writeFile(passwordFile, 'wrong\n');
    const delivery = await farm.mailer(fields).send(accepted!);
    expect(delivery.failure).toMatch(/^spooled in .*mail-spool\/\d{8}T\d{9}Z-[0-9a-f]{16}\.mail for another attempt at .*: smtp 127\.0\.0\.1:\d+: Invalid login/);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 1, failed: 0 });
    expect(sink.received).toHaveLength(1);
  });

  it('never sends in clear when STARTTLS is required but not offered, nor to a certificate it cannot verify', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(['Mail-Transport: smtp', 'Mail-SMTP-Host: 127.0.0.1', `Mail-SMTP-Port: ${sink.port}`]);
    const [accepted] = await allNotices(farm.mailer().settings, farm.directory);
    const plain = await farm.mailer().send(accepted!);
    expect(plain.failure).toMatch(/spooled in .*: smtp 127\.0\.0\.1:\d+: .*STARTTLS/i);

    await sink.stop();
    const certificate = await makeCertificate(farm.directory);
    sink = await SmtpSink.start({ tls: certificate, implicitTls: true });
    const tls = ['Mail-Transport: smtp', 'Mail-SMTP-Host: 127.0.0.1', `Mail-SMTP-Port: ${sink.port}`, 'Mail-SMTP-Security: tls'];
    const untrusted = await farm.mailer(tls).send(accepted!);
    expect(untrusted.failure).toMatch(/spooled in .*: smtp 127\.0\.0\.1:\d+: .*self-signed certificate/);
    expect(sink.received).toEqual([]);

    // Trusting the certificate, implicit TLS delivers; the flush sends what waited, once each.
    const report = await farm.mailer([...tls, `Mail-SMTP-CA-File: ${certificate.certFile}`]).flush();
    expect(report.outcomes.map((outcome) => outcome.state)).toEqual(['sent', 'sent']);
    expect(sink.received.map((mail) => [mail.secure, mail.parsed.messageId])).toEqual([
      [true, ACCEPT_ID],
      [true, ACCEPT_ID],
    ]);
  });
});

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return objects.flatMap((object) => object.value.map((address) => (address.name ? `${address.name} <${address.address ?? ''}>` : address.address ?? '')));
}
