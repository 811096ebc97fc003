/**
 * `opkfarm mail list` and `opkfarm mail flush` as an operator runs them, as
 * real processes, against a real SMTP server on 127.0.0.1 that is down, then
 * back: one line per message, exit 75 while mail still waits, 1 when some was
 * refused for good, 0 when all went out; two flushes at once send each
 * message once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spoolStatus } from '../../lib/mail/spool.js';
import { allNotices, makeMailFarm, plainSmtp, removeMailFarm, type MailFarm } from '../mail/fixtures.js';
import { SmtpSink } from '../mail/smtp-sink.js';
import { runProgram } from '../support/programs.js';

let farm: MailFarm | undefined;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.stop();
  sink = undefined;
  await removeMailFarm(farm);
  farm = undefined;
});

async function opkfarm(...args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await runProgram('opkfarm', args);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

const NAME = String.raw`\d{8}T\d{9}Z-[0-9a-f]{16}\.mail`;

describe('opkfarm mail', () => {
  it('lists what waits, flushes it once the server is back, and two flushes at once send each message once', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(plainSmtp(sink.port));
    await sink.stop();
    const mailer = farm.mailer();
    for (const notice of await allNotices(mailer.settings, farm.directory)) await mailer.send(notice);
    const root = farm.layout.root;

    const list = await opkfarm('mail', 'list', '--root', root);
    expect(list.exitCode).toBe(0);
    const listed = list.stdout.split('\n');
    expect(listed).toHaveLength(5);
    expect(listed[0]).toMatch(
      new RegExp(
        `^waiting ${NAME}  "Accepted hello 1\\.0-1" to jane@example\\.org, john@example\\.org, uploads@lists\\.example  ` +
          `1 attempt, next attempt \\S+Z  last error: smtp 127\\.0\\.0\\.1:\\d+: .*ECONNREFUSED`,
      ),
    );
    expect(listed[3]).toMatch(new RegExp(`^waiting ${NAME}  "Installed hello 1\\.0-1 in dev/trunk" .* 0 attempts, next attempt .*  last error: not tried: `));
    expect(listed[4]).toMatch(/^4 waiting \(the oldest for \d+ s\)$/);

    // Still down: the first message is tried, the others are not; exit 75, try again later.
    const down = await opkfarm('mail', 'flush', '--root', root);
    expect(down.exitCode).toBe(75);
    const downLines = down.stdout.split('\n');
    expect(downLines[0]).toMatch(new RegExp(`^${NAME} "Accepted hello 1\\.0-1": deferred until \\S+ \\(attempt 2\\): smtp .*ECONNREFUSED`));
    expect(downLines.slice(1, 4).every((line) => / not tried, the server is unreachable: /.test(line))).toBe(true);
    expect(downLines[4]).toMatch(new RegExp(`^0 sent, 4 deferred, 0 failed through smtp 127\\.0\\.0\\.1:${sink.port}; 4 waiting`));

    await sink.restart();
    const [one, two] = await Promise.all([opkfarm('mail', 'flush', '--root', root), opkfarm('mail', 'flush', '--root', root)]);
    expect([one.exitCode, two.exitCode, one.stderr, two.stderr]).toEqual([0, 0, '', '']);
    const sent = [...one.stdout.split('\n'), ...two.stdout.split('\n')].filter((line) => line.includes(': sent to '));
    expect(sent).toHaveLength(4);
    expect(sink.received).toHaveLength(4);
    expect(new Set(sink.received.map((mail) => mail.parsed.messageId)).size).toBe(4);

    expect(await opkfarm('mail', 'list', '--root', root)).toEqual({ exitCode: 0, stdout: 'the mail spool is empty', stderr: '' });
    expect(await opkfarm('mail', 'flush', '--root', root)).toEqual({
      exitCode: 0,
      stdout: `nothing to send through smtp 127.0.0.1:${sink.port}; the mail spool is empty`,
      stderr: '',
    });
  });

  it('exits 1 and keeps the message in failed/ when the server refuses it for good; --failed retries it', async () => {
    sink = await SmtpSink.start();
    farm = await makeMailFarm(plainSmtp(sink.port));
    await sink.stop();
    const mailer = farm.mailer();
    const [accepted] = await allNotices(mailer.settings, farm.directory);
    await mailer.send(accepted!);
    await sink.restart();
    sink.refuseData = () => [550, '5.7.1 Relaying denied'];

    const refused = await opkfarm('mail', 'flush', '--root', farm.layout.root);
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toMatch(new RegExp(`^${NAME} "Accepted hello 1\\.0-1": failed, kept in \\S+/mail-spool/failed/${NAME}: .*550 5\\.7\\.1 Relaying denied\\n`));
    expect(refused.stdout).toMatch(/; 0 waiting, 1 failed \(retry with opkfarm mail flush --failed\)$/);
    expect((await opkfarm('mail', 'list', '--root', farm.layout.root)).stdout).toMatch(
      new RegExp(`^failed  ${NAME}  "Accepted hello 1\\.0-1" .* 2 attempts, kept since \\S+  last error: .*Relaying denied\\n0 waiting, 1 failed`),
    );

    sink.refuseData = () => undefined;
    const retried = await opkfarm('mail', 'flush', '--root', farm.layout.root, '--failed');
    expect(retried.exitCode).toBe(0);
    expect(retried.stdout).toMatch(/: sent to jane@example\.org, john@example\.org, uploads@lists\.example\n1 sent, 0 deferred, 0 failed/);
    expect(await spoolStatus(farm.layout)).toEqual({ waiting: 0, failed: 0, oldestSeconds: undefined });
  });
});
