/**
 * The retry spool with a real SMTP server that goes away and comes back:
 * nothing is lost, nothing is sent twice (also with two flushers at once),
 * the bytes sent are the bytes spooled, a 5xx refusal ends in failed/ with
 * its reason, a 4xx is retried with backoff, and the claims of dead senders
 * are given back.
 */
import { copyFile, readFile, readdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_RETRY_SECONDS, MAX_ATTEMPTS } from '../../lib/mail/backoff.js';
import { describeOutcome, flushSpool } from '../../lib/mail/flush.js';
import { formatSpoolFile, parseSpoolFile } from '../../lib/mail/spool-file.js';
import { MailSpool, spoolStatus } from '../../lib/mail/spool.js';
import { openSmtpTransport } from '../../lib/mail/smtp.js';
import { currentProcess } from '../../lib/queue/heartbeat.js';
import { allNotices, makeMailFarm, plainSmtp, removeMailFarm, spoolNames, type MailFarm } from './fixtures.js';
import { SmtpSink } from './smtp-sink.js';

let farm: MailFarm | undefined;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.stop();
  sink = undefined;
  await removeMailFarm(farm);
  farm = undefined;
});

/** A farm mailing through a sink, which is then stopped, and the four notices sent while it is down. */
async function spoolWhileDown(): Promise<{ farm: MailFarm; sink: SmtpSink; spooled: Map<string, Buffer> }> {
  sink = await SmtpSink.start();
  farm = await makeMailFarm(plainSmtp(sink.port));
  await sink.stop();
  const mailer = farm.mailer();
  for (const notice of await allNotices(mailer.settings, farm.directory)) {
    const delivery = await mailer.send(notice);
    expect(delivery.failure).toMatch(/^spooled in .*mail-spool\/.*(ECONNREFUSED|without an attempt)/);
  }
  const spooled = new Map<string, Buffer>();
  for (const name of await spoolNames(farm.layout.mailSpool)) {
    const { mail, raw } = parseSpoolFile(await readFile(join(farm.layout.mailSpool, name)), name);
    spooled.set(mail.messageId, raw);
  }
  return { farm, sink, spooled };
}

describe('the mail spool', () => {
  it('keeps what a stopped server could not take and delivers each message once, byte for byte, when it returns', async () => {
    const { farm, sink, spooled } = await spoolWhileDown();
    expect(spooled.size).toBe(4);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 4, failed: 0 });

    // The first failure was a refused connection: the notices after it were not even tried.
    const heads = await new MailSpool(farm.layout, { leaseSeconds: 600 }).list();
    expect(heads.map((entry) => entry.mail?.attempts)).toEqual([1, 0, 0, 0]);
    expect(heads[1]?.mail?.lastError).toMatch(/^not tried: smtp 127\.0\.0\.1:\d+: .*ECONNREFUSED/);

    // Not due yet: a flush of due mail leaves them alone.
    await sink.restart();
    expect((await farm.mailer().flushDue()).outcomes).toEqual([]);
    expect(sink.received).toEqual([]);

    const report = await farm.mailer().flush();
    expect(report.outcomes.map((outcome) => outcome.state)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(describeOutcome(report.outcomes[0]!)).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{16}\.mail "Accepted hello 1\.0-1": sent to jane@example\.org, john@example\.org, uploads@lists\.example$/);
    expect(sink.received).toHaveLength(4);
    for (const mail of sink.received) {
      expect(mail.raw.equals(spooled.get(mail.parsed.messageId ?? '') ?? Buffer.alloc(0))).toBe(true);
    }
    expect(new Set(sink.received.map((mail) => mail.parsed.messageId)).size).toBe(4);
    expect(await spoolStatus(farm.layout)).toEqual({ waiting: 0, failed: 0, oldestSeconds: undefined });
    expect(await readdir(farm.layout.mailSpoolClaims)).toEqual([]);

    // A second flush finds nothing to send again.
    expect((await farm.mailer().flush()).outcomes).toEqual([]);
    expect(sink.received).toHaveLength(4);
  });

  it('drains into the outbox when the farm went back to Mail-Transport: outbox', async () => {
    const { farm, spooled } = await spoolWhileDown();
    const report = await farm.mailer([]).flush();
    expect(report.outcomes.map((outcome) => outcome.state)).toEqual(['sent', 'sent', 'sent', 'sent']);
    const files = await readdir(farm.layout.outbox);
    expect(files).toHaveLength(4);
    const written = await Promise.all(files.map((name) => readFile(join(farm.layout.outbox, name))));
    expect(written.every((content) => [...spooled.values()].some((raw) => raw.equals(content)))).toBe(true);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 0, failed: 0 });
  });

  it('lets two flushers at once send each message exactly once', async () => {
    const { farm, sink } = await spoolWhileDown();
    const extra = await allNotices(farm.mailer().settings, farm.directory, { key: '0000000043_hello_1.0-2', version: '1.0-2' });
    const mailer = farm.mailer();
    for (const notice of extra) await mailer.send(notice);
    expect((await spoolStatus(farm.layout)).waiting).toBe(8);
    await sink.restart();

    // Two spools with different identities: what two processes (or hosts) flushing together do.
    const transport = openSmtpTransport(smtpSettings(farm));
    const one = new MailSpool(farm.layout, { leaseSeconds: 600, self: { host: 'host-a', pid: 1 } });
    const two = new MailSpool(farm.layout, { leaseSeconds: 600, self: { host: 'host-b', pid: 2 } });
    const [first, second] = await Promise.all([flushSpool(one, transport, { all: true }), flushSpool(two, transport, { all: true })]);
    const sent = [...first.outcomes, ...second.outcomes].filter((outcome) => outcome.state === 'sent');
    expect(sent).toHaveLength(8);
    expect(sink.received).toHaveLength(8);
    expect(new Set(sink.received.map((mail) => mail.parsed.messageId)).size).toBe(8);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 0, failed: 0 });
  });

  it('keeps a message the server refuses for good in failed/ with the reason, and retries it on request', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(plainSmtp(sink.port));
    sink.refuseData = () => [554, '5.7.1 Message rejected as spam'];
    const mailer = farm.mailer();
    const [accepted] = await allNotices(mailer.settings, farm.directory);
    const delivery = await mailer.send(accepted!);
    expect(delivery.failure).toMatch(/^refused, kept in .*mail-spool\/failed\/\d{8}T\d{9}Z-[0-9a-f]{16}\.mail: smtp 127\.0\.0\.1:\d+: Message failed: 554 5\.7\.1 Message rejected as spam$/);
    const [failed] = await spoolNames(farm.layout.mailSpoolFailed);
    const kept = parseSpoolFile(await readFile(join(farm.layout.mailSpoolFailed, failed!)), failed!);
    expect(kept.mail.lastError).toContain('554 5.7.1 Message rejected as spam');
    expect(kept.mail.attempts).toBe(1);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 0, failed: 1 });

    // Not retried by a flush: a permanent refusal would only come again.
    expect((await mailer.flush()).outcomes).toEqual([]);
    expect(sink.received).toEqual([]);

    // Once the cause is fixed, an operator retries it.
    sink.refuseData = () => undefined;
    const retried = await mailer.flush({ includeFailed: true });
    expect(retried.outcomes.map((outcome) => outcome.state)).toEqual(['sent']);
    expect(sink.received.map((mail) => mail.parsed.subject)).toEqual(['Accepted hello 1.0-1']);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 0, failed: 0 });
  });

  it('sends to the recipients that take the message and keeps it for those who refuse, permanently or for now', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(plainSmtp(sink.port));
    sink.refuseRecipient = (address) =>
      address === 'jane@example.org' ? [550, '5.1.1 No such user'] : address === 'john@example.org' ? [451, '4.2.0 Mailbox busy'] : undefined;
    const mailer = farm.mailer();
    const [accepted] = await allNotices(mailer.settings, farm.directory);
    const before = Date.now();
    const delivery = await mailer.send(accepted!);
    expect(delivery.failure).toMatch(/^sent to uploads@lists\.example, but spooled in .* for another attempt at /);
    expect(sink.received.map((mail) => mail.to)).toEqual([['uploads@lists.example']]);

    // John was deferred (4xx) together with Jane; the next attempt is a minute away.
    const [waiting] = await spoolNames(farm.layout.mailSpool);
    const first = parseSpoolFile(await readFile(join(farm.layout.mailSpool, waiting!)), waiting!).mail;
    expect(first.envelope.to).toEqual(['jane@example.org', 'john@example.org']);
    expect(first.attempts).toBe(1);
    expect(first.lastError).toBe('jane@example.org: 550 5.1.1 No such user; john@example.org: 451 4.2.0 Mailbox busy');
    expect(first.nextAttempt.getTime() - before).toBeGreaterThanOrEqual(FIRST_RETRY_SECONDS * 1000);
    expect(first.nextAttempt.getTime() - Date.now()).toBeLessThanOrEqual(FIRST_RETRY_SECONDS * 1000);

    // John's mailbox recovers: he gets it; Jane's refusal is final, so the rest waits in failed/.
    sink.refuseRecipient = (address) => (address === 'jane@example.org' ? [550, '5.1.1 No such user'] : undefined);
    const report = await mailer.flush();
    expect(report.outcomes.map((outcome) => [outcome.state, 'sentTo' in outcome ? outcome.sentTo : []])).toEqual([['failed', ['john@example.org']]]);
    expect(sink.received.map((mail) => mail.to)).toEqual([['uploads@lists.example'], ['john@example.org']]);
    const [failed] = await spoolNames(farm.layout.mailSpoolFailed);
    const last = parseSpoolFile(await readFile(join(farm.layout.mailSpoolFailed, failed!)), failed!).mail;
    expect(last.envelope.to).toEqual(['jane@example.org']);
    expect(last.attempts).toBe(2);
    expect(await spoolNames(farm.layout.mailSpool)).toEqual([]);
  });

  it('backs off after each failure and gives up into failed/ after the last attempt', async () => {
    const { farm } = await spoolWhileDown();
    const spool = new MailSpool(farm.layout, { leaseSeconds: 600 });
    const [oldest] = await spool.names('waiting');
    const path = join(farm.layout.mailSpool, oldest!);
    const { mail, raw } = parseSpoolFile(await readFile(path), path);
    await writeFile(path, formatSpoolFile({ ...mail, attempts: MAX_ATTEMPTS - 1 }, raw));

    const transport = openSmtpTransport(smtpSettings(farm));
    const report = await flushSpool(spool, transport, { all: true });
    // The server is down: the first message is tried and given up, the others are not tried at all.
    expect(report.outcomes.map((outcome) => outcome.state)).toEqual(['failed', 'not-tried', 'not-tried', 'not-tried']);
    expect(report.outcomes[0]?.error).toMatch(new RegExp(`^gave up after ${MAX_ATTEMPTS} attempts: smtp 127\\.0\\.0\\.1:\\d+: .*ECONNREFUSED`));
    expect(await spoolNames(farm.layout.mailSpoolFailed)).toEqual([oldest]);
    const untouched = await spool.list();
    expect(untouched.filter((entry) => entry.state === 'waiting').map((entry) => entry.mail?.attempts)).toEqual([0, 0, 0]);
  });

  it('gives back the claim of a sender that died, drops one a newer copy replaced, and waits out a live one elsewhere', async () => {
    const { farm, sink } = await spoolWhileDown();
    const spool = new MailSpool(farm.layout, { leaseSeconds: 600 });
    const [first, second, third] = await spool.names('waiting');
    const dead = (await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])).stdout;
    const { host } = currentProcess();
    // A dead sender's claim of `first`; and of `second`, which it had already deferred (the waiting copy is newer).
    await rename(join(farm.layout.mailSpool, first!), join(farm.layout.mailSpoolClaims, `${first}@${host}@${dead}`));
    await copyFile(join(farm.layout.mailSpool, second!), join(farm.layout.mailSpoolClaims, `${second}@${host}@${dead}`));
    // A claim made just now by a process on another host: its owner may be sending it.
    const elsewhere = join(farm.layout.mailSpoolClaims, `${third}@elsewhere@4242`);
    await rename(join(farm.layout.mailSpool, third!), elsewhere);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 5 });

    await sink.restart();
    const report = await farm.mailer().flush();
    expect(report.recovered).toEqual([first]);
    expect(report.outcomes.map((outcome) => outcome.state)).toEqual(['sent', 'sent', 'sent']);
    expect(await readdir(farm.layout.mailSpoolClaims)).toEqual([`${third}@elsewhere@4242`]);

    // Older than the lease, the other host's claim is given back too, and its message sent.
    const longAgo = new Date(Date.now() - 601_000);
    await utimes(elsewhere, longAgo, longAgo);
    const later = await farm.mailer().flush();
    expect(later.recovered).toEqual([third]);
    expect(later.outcomes.map((outcome) => outcome.state)).toEqual(['sent']);
    expect(sink.received).toHaveLength(4);
    expect(new Set(sink.received.map((mail) => mail.parsed.messageId)).size).toBe(4);
    expect(await readdir(farm.layout.mailSpoolClaims)).toEqual([]);
  });

  it('spools without an attempt for a minute once the server was unreachable, so no pipeline step waits for it', async () => {
    const { farm, sink } = await spoolWhileDown();
    await sink.restart();
    // The same mailer (the same daemon) keeps spooling without trying, though the server is back.
    const mailer = farm.mailer();
    const [accepted] = await allNotices(mailer.settings, farm.directory);
    await sink.stop();
    expect((await mailer.send(accepted!)).failure).toMatch(/ECONNREFUSED/);
    await sink.restart();
    const started = Date.now();
    expect((await mailer.send(accepted!)).failure).toMatch(/^spooled in .* without an attempt until .*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sink.received).toEqual([]);
    // A flush that reaches the server lifts the pause.
    await mailer.flush();
    expect(sink.received).toHaveLength(6);
    expect(await mailer.send(accepted!)).toEqual({ id: '<accept.0000000042_hello_1.0-1@farm.example>', skipped: [] });
  });
});

function smtpSettings(farm: MailFarm) {
  const { mail } = farm.config();
  if (mail.transport !== 'smtp') throw new Error('not an SMTP farm');
  return mail.smtp;
}
