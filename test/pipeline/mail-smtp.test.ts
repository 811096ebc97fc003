/**
 * The real daemons mailing through a real SMTP server on 127.0.0.1 that
 * stops in the middle of the run (the "done when"): the accept mail
 * goes out, the server goes down, the pipeline still finishes with the build
 * log and installed mail waiting in the spool, and when the server is back
 * `opkfarm mail flush` delivers each of them once.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spoolStatus } from '../../lib/mail/spool.js';
import { QueueLayout } from '../../lib/layout.js';
import { plainSmtp } from '../mail/fixtures.js';
import { SmtpSink } from '../mail/smtp-sink.js';
import { buildUpload, buildq, describeRoot, initFarm, namesIn, pipelineSettled } from '../support/farm.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';
import { waitFor } from '../support/wait.js';

let sink: SmtpSink | undefined;
const { directory, daemons } = usePipelineScratch('mail-smtp', () => void sink?.stop());

describe('the pipeline mailing through SMTP', () => {
  it('finishes while the mail server is down, and delivers every notice once when it is back', async () => {
    sink = await SmtpSink.start();
    const base = directory();
    const root = join(base, 'root');
    await initFarm(root, { queues: [{ name: 'indep', architectures: ['all'] }], rescanSeconds: 1, mailFields: plainSmtp(sink.port) });
    const source = await writeSourcePackage(join(base, 'sources'), { name: 'mailpkg', version: '1.0', binaries: [{ name: 'mailpkg', architecture: 'all' }] });
    await buildUpload(source, join(root, 'uploads', 'incoming'));
    await buildq(root, ['accept', 'mailpkg', '1.0', '--remarks', 'ok']);
    expect(sink.received.map((mail) => mail.parsed.subject)).toEqual(['Accepted mailpkg 1.0']);

    await sink.stop();
    daemons.start('buildd', ['--root', root, '--queue', 'indep']);
    daemons.start('builddd', ['--root', root]);
    daemons.start('archived', ['--root', root]);
    await waitFor('the upload to be archived and every queue to be empty', () => pipelineSettled(root, ['indep'], ['mailpkg', 'src-mailpkg']), {
      timeoutMs: 60_000,
      diagnostics: async () => `${await describeRoot(root, ['indep'])}\n${daemons.logs()}`,
    });
    const layout = new QueueLayout(root);
    expect(await spoolStatus(layout)).toMatchObject({ waiting: 2, failed: 0 });
    expect(await namesIn(layout.outbox)).toEqual([]);

    await sink.restart();
    const flush = await runProgram('opkfarm', ['mail', 'flush', '--root', root]);
    expect(flush.exitCode, String(flush.stdout)).toBe(0);
    expect(String(flush.stdout).split('\n').filter((line) => line.includes(': sent to maintainer@example.org, uploader@example.org'))).toHaveLength(2);
    const again = await runProgram('opkfarm', ['mail', 'flush', '--root', root]);
    expect(String(again.stdout)).toMatch(/^nothing to send .*; the mail spool is empty$/);

    const subjects = sink.received.map((mail) => mail.parsed.subject).sort();
    expect(subjects).toEqual(['Accepted mailpkg 1.0', 'Build succeeded mailpkg 1.0 all/all', 'Installed mailpkg 1.0 in dev/trunk']);
    expect(new Set(sink.received.map((mail) => mail.parsed.messageId)).size).toBe(3);
    for (const mail of sink.received) expect(mail.to).toEqual(['maintainer@example.org', 'uploader@example.org']);
    const accept = '<accept.0000000001_mailpkg_1.0@localhost>';
    expect(sink.received.filter((mail) => mail.parsed.inReplyTo === accept)).toHaveLength(2);
    expect(await spoolStatus(layout)).toEqual({ waiting: 0, failed: 0, oldestSeconds: undefined });
  }, 90_000);
});
