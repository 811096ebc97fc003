/**
 * The sendmail transport with a stand-in program under it: a shell script
 * that records its arguments and standard input and exits with the status a
 * test chooses. The transport must call it as `<command…> -i -f <from> --
 * <recipients…>` and hand it exactly the bytes the spool holds.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSpoolFile } from '../../lib/mail/spool-file.js';
import { spoolStatus } from '../../lib/mail/spool.js';
import { allNotices, FARM_FROM, makeMailFarm, removeMailFarm, spoolNames, type MailFarm } from './fixtures.js';
import { parseEml, header } from './eml.js';

let farm: MailFarm | undefined;
afterEach(async () => {
  await removeMailFarm(farm);
  farm = undefined;
});

/** A fake sendmail in `directory`: each call appends to `calls` and writes its stdin to `stdin.<n>`; exits with the number in `status`. */
async function fakeSendmail(directory: string): Promise<{ program: string; calls: () => Promise<string[][]>; stdin: (call: number) => Promise<Buffer>; exitWith: (status: number) => Promise<void> }> {
  const program = join(directory, 'sendmail');
  const calls = join(directory, 'calls');
  const status = join(directory, 'status');
  await writeFile(
    program,
    [
      '#!/bin/sh',
      `n=$(( $(cat ${calls} 2>/dev/null | grep -c '^--call--$') + 1 ))`,
      `{ echo --call--; for argument in "$@"; do printf '%s\\n' "$argument"; done; } >> ${calls}`,
      `cat > ${directory}/stdin.$n`,
      `status=$(cat ${status} 2>/dev/null || echo 0)`,
      '[ "$status" = 0 ] || echo "sendmail: refused with $status" >&2',
      'exit "$status"',
      '',
    ].join('\n'),
  );
  await chmod(program, 0o755);
  return {
    program,
    calls: async () =>
      (await readFile(calls, 'utf8').catch(() => ''))
        .split('--call--\n')
        .slice(1)
        .map((call) => call.split('\n').slice(0, -1)),
    stdin: (call) => readFile(join(directory, `stdin.${call}`)),
    exitWith: (code) => writeFile(status, `${code}\n`),
  };
}

describe('the sendmail transport', () => {
  it('runs the command with -i -f <from> -- <recipients> and the exact spooled bytes on stdin, retrying a temporary failure', async () => {
    farm = await makeMailFarm([]);
    const sendmail = await fakeSendmail(farm.directory);
    const fields = ['Mail-Transport: sendmail', `Mail-Sendmail-Command: ${sendmail.program} -oem`];
    const mailer = farm.mailer(fields);
    const [accepted, , built] = await allNotices(mailer.settings, farm.directory, { maintainer: 'Dash <-oQ/tmp/x@example.org>' });

    expect(await mailer.send(accepted!)).toEqual({ id: '<accept.0000000042_hello_1.0-1@farm.example>', skipped: [] });
    const recipients = ['-oQ/tmp/x@example.org', 'john@example.org', 'uploads@lists.example'];
    expect(await sendmail.calls()).toEqual([['-oem', '-i', '-f', FARM_FROM, '--', ...recipients]]);
    const first = parseEml((await sendmail.stdin(1)).toString('utf8'));
    expect(header(first, 'subject')).toBe('Accepted hello 1.0-1');
    expect(header(first, 'message-id')).toBe('<accept.0000000042_hello_1.0-1@farm.example>');
    expect((await sendmail.stdin(1)).toString('latin1')).toMatch(/^[^\n]*\r\n(?:[^\n]*\r\n)*[^\n]*$/);

    // EX_TEMPFAIL: the message waits in the spool; the retry hands sendmail the spooled bytes unchanged.
    await sendmail.exitWith(75);
    const deferred = await mailer.send(built!);
    expect(deferred.failure).toMatch(/^spooled in .* for another attempt at .*: sendmail .*sendmail -oem: exit status 75: sendmail: refused with 75$/);
    const [waiting] = await spoolNames(farm.layout.mailSpool);
    const spooled = parseSpoolFile(await readFile(join(farm.layout.mailSpool, waiting!)), waiting!).raw;
    expect(spooled.equals(await sendmail.stdin(2))).toBe(true);
    await sendmail.exitWith(0);
    const report = await farm.mailer(fields).flush();
    expect(report.outcomes.map((outcome) => outcome.state)).toEqual(['sent']);
    expect((await sendmail.stdin(3)).equals(spooled)).toBe(true);
    expect((await sendmail.calls())[2]).toEqual(['-oem', '-i', '-f', FARM_FROM, '--', ...recipients]);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 0, failed: 0 });
  });

  it('keeps a message sendmail refuses for good (EX_NOUSER) in failed/', async () => {
    farm = await makeMailFarm([]);
    const sendmail = await fakeSendmail(farm.directory);
    const mailer = farm.mailer(['Mail-Transport: sendmail', `Mail-Sendmail-Command: ${sendmail.program}`]);
    await sendmail.exitWith(67);
    const [accepted] = await allNotices(mailer.settings, farm.directory);
    expect((await mailer.send(accepted!)).failure).toMatch(/^refused, kept in .*mail-spool\/failed\/.*: exit status 67/);
    expect(await spoolStatus(farm.layout)).toMatchObject({ waiting: 0, failed: 1 });
  });

  it('refuses a Mail-Sendmail-Command that cannot run when the mailer is made', async () => {
    farm = await makeMailFarm([]);
    const missing = join(farm.directory, 'no-sendmail');
    expect(() => farm?.mailer(['Mail-Transport: sendmail', `Mail-Sendmail-Command: ${missing}`])).toThrow(
      `cannot run Mail-Sendmail-Command ${missing}: ENOENT`,
    );
  });
});
