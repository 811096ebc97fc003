import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../lib/fs/atomic.js';
import { composeMessage } from '../../lib/mail/compose.js';
import {
  acceptedMessage,
  buildLogMessage,
  installedMessage,
  mailSettings,
  rejectedMessage,
  type MailMessage,
  type UploadInfo,
} from '../../lib/mail/messages.js';
import { OUTBOX_SUFFIX, OutboxTransport } from '../../lib/mail/outbox.js';
import { deliver, type MailTransport } from '../../lib/mail/transport.js';
import { header, parseEml, rawHeaderSection } from './eml.js';

const SETTINGS = mailSettings({ from: 'opkfarm <farm@farm.example>', copyTo: 'opk-uploads@lists.example' });
const UPLOAD: UploadInfo = {
  key: '0000000007_hello_1.0-1',
  source: 'hello',
  version: '1.0-1',
  maintainer: 'Jürgen Müller <jm@example.org>',
  changedBy: 'JM <JM@Example.org>',
};

let dir: string;
let outbox: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opkfarm-outbox-'));
  outbox = join(dir, 'outbox');
  await mkdir(outbox);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sent(id: string | undefined): Promise<{ raw: string; mail: ReturnType<typeof parseEml> }> {
  expect(id).toBeDefined();
  const raw = await readFile(id as string, 'utf8');
  return { raw, mail: parseEml(raw) };
}

describe('OutboxTransport', () => {
  it('threads accepted → build log → installed, each a complete .eml', async () => {
    const transport = new OutboxTransport(outbox);
    const logPath = join(dir, 'amd64_linux.log');
    await writeFile(logPath, 'configure\nmake\nmake install\nüñí\n');

    const accepted = await deliver(
      transport,
      acceptedMessage(SETTINGS, { ...UPLOAD, remarks: 'Welcome aboard.', changes: 'Format: 1.8\nSource: hello\n' }),
    );
    const built = await deliver(
      transport,
      await buildLogMessage(SETTINGS, {
        ...UPLOAD,
        architecture: 'amd64',
        platform: 'linux',
        succeeded: true,
        host: 'builder1',
        durationSeconds: 42,
        logPath,
      }),
    );
    const installed = await deliver(
      transport,
      installedMessage(SETTINGS, { ...UPLOAD, suite: 'trunk', files: [{ name: 'hello_1.0-1_amd64_linux.opk', size: 2048 }] }),
    );

    const names = (await readdir(outbox)).sort();
    expect(names).toHaveLength(3);
    for (const name of names) expect(name).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{16}\.eml$/);
    expect(names.some((name) => name.startsWith(TEMP_PREFIX))).toBe(false);

    const first = await sent(accepted.id);
    expect(accepted.skipped).toEqual([]);
    expect(first.raw).toMatch(/\r\n\r\n/);
    expect(first.raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(header(first.mail, 'from')).toBe('opkfarm <farm@farm.example>');
    expect(header(first.mail, 'to')).toBe('Jürgen Müller <jm@example.org>');
    expect(first.mail.headers.get('to')).toHaveLength(1);
    expect(header(first.mail, 'cc')).toBe('opk-uploads@lists.example');
    expect(header(first.mail, 'subject')).toBe('Accepted hello 1.0-1');
    expect(header(first.mail, 'x-opkfarm-source')).toBe('hello');
    expect(header(first.mail, 'x-opkfarm-version')).toBe('1.0-1');
    expect(header(first.mail, 'x-opkfarm-status')).toBe('accepted');
    expect(header(first.mail, 'auto-submitted')).toBe('auto-generated');
    expect(header(first.mail, 'date')).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    expect(header(first.mail, 'message-id')).toBe('<accept.0000000007_hello_1.0-1@farm.example>');
    expect(header(first.mail, 'in-reply-to')).toBeUndefined();
    expect(first.mail.text).toBe('Welcome aboard.\n\nFormat: 1.8\nSource: hello\n');

    const second = await sent(built.id);
    expect(header(second.mail, 'subject')).toBe('Build succeeded hello 1.0-1 amd64/linux');
    expect(header(second.mail, 'x-opkfarm-status')).toBe('built');
    expect(header(second.mail, 'x-opkfarm-architecture')).toBe('amd64');
    expect(header(second.mail, 'in-reply-to')).toBe('<accept.0000000007_hello_1.0-1@farm.example>');
    expect(header(second.mail, 'references')).toBe('<accept.0000000007_hello_1.0-1@farm.example>');
    const buildId = header(second.mail, 'message-id');
    expect(buildId).toMatch(/^<build\.0000000007_hello_1\.0-1\.[^@\s]+@farm\.example>$/);
    expect(second.mail.text).toContain('Status: succeeded\nHost: builder1\nDuration: 42 s\n');
    expect(second.mail.text).toContain('configure\nmake\nmake install\nüñí\n');
    expect(second.mail.text).toContain(`The log is stored in ${logPath}\n`);
    const attachment = second.mail.parts.find((part) => header(part, 'content-disposition')?.startsWith('attachment'));
    expect(header(attachment ?? second.mail, 'content-disposition')).toMatch(/filename=hello_1\.0-1_amd64_linux\.log/);
    expect(attachment?.body.toString('utf8')).toBe('configure\nmake\nmake install\nüñí\n');

    const third = await sent(installed.id);
    expect(header(third.mail, 'subject')).toBe('Installed hello 1.0-1 in trunk');
    expect(header(third.mail, 'x-opkfarm-status')).toBe('installed');
    expect(header(third.mail, 'references')).toBe('<accept.0000000007_hello_1.0-1@farm.example>');
    expect(header(third.mail, 'message-id')).not.toBe(buildId);
    expect(header(third.mail, 'message-id')).toMatch(/^<installed\.0000000007_hello_1\.0-1\./);
    expect(third.mail.text).toContain('  hello_1.0-1_amd64_linux.opk  2048 bytes\n');
  });

  it('lets no hostile value add a header line', async () => {
    const transport = new OutboxTransport(outbox);
    const { id, skipped } = await deliver(
      transport,
      rejectedMessage(SETTINGS, {
        key: '0000000008_evil_1',
        source: 'evil\nX-Injected: 1',
        version: '1\r\nX-Injected: 2\u0000',
        maintainer: 'Evil <a@b>\r\nBcc: victim@x',
        changedBy: 'Uploader <up@example.org>',
        remarks: 'Fix this.\r\nBcc: victim@x\r\n\r\nX-Injected: 3\rX-Injected: 4',
        keptIn: '/srv/rejected/0000000008_evil_1',
      }),
    );
    expect(skipped).toEqual([
      { field: 'Maintainer', value: 'Evil <a@b>\r\nBcc: victim@x', reason: 'contains a line break' },
    ]);
    const { raw, mail } = await sent(id);
    const headers = rawHeaderSection(raw);
    expect(headers).not.toMatch(/^(X-Injected|Bcc):/im);
    expect(headers).not.toContain('victim');
    expect(raw).not.toContain('\u0000');
    expect(header(mail, 'to')).toBe('Uploader <up@example.org>');
    expect(header(mail, 'bcc')).toBeUndefined();
    expect(header(mail, 'subject')).toBe('Rejected evil X-Injected: 1 1 X-Injected: 2');
    expect(header(mail, 'x-opkfarm-source')).toBe('evil X-Injected: 1');
    expect(header(mail, 'message-id')).toBe('<reject.0000000008_evil_1@farm.example>');
    expect(mail.text).toBe(
      'Fix this.\nBcc: victim@x\n\nX-Injected: 3\nX-Injected: 4\n\nThe upload is kept in /srv/rejected/0000000008_evil_1\n',
    );
  });

  it('refuses a message with no recipient, and deliver does not send one', async () => {
    const transport = new OutboxTransport(outbox);
    const settings = mailSettings({ from: 'farm@farm.example' });
    const notice = rejectedMessage(settings, { ...UPLOAD, maintainer: 'bad', changedBy: undefined, remarks: '', keptIn: 'x' });
    await expect(transport.send(notice.message)).rejects.toThrow('has no recipient');
    expect(await deliver(transport, notice)).toEqual({
      id: undefined,
      skipped: [{ field: 'Maintainer', value: 'bad', reason: 'has no "@"' }],
    });
    expect(await readdir(outbox)).toEqual([]);
  });

  it('fails on a missing outbox directory without leaving anything behind', async () => {
    const transport = new OutboxTransport(join(dir, 'no-such-outbox'));
    const { message } = acceptedMessage(SETTINGS, { ...UPLOAD, remarks: '', changes: '' });
    await expect(transport.send(message)).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual(['outbox']);
    const ok = await new OutboxTransport(outbox).send(message);
    expect(ok.id.endsWith(OUTBOX_SUFFIX)).toBe(true);
    expect(await readdir(outbox)).toEqual([ok.id.slice(outbox.length + 1)]);
  });

  it('is one implementation of MailTransport', async () => {
    const seen: MailMessage[] = [];
    const memory: MailTransport = {
      send: (message) => {
        seen.push(message);
        return Promise.resolve({ id: `memory:${seen.length}` });
      },
    };
    const notice = acceptedMessage(SETTINGS, { ...UPLOAD, remarks: '', changes: '' });
    expect(await deliver(memory, notice)).toEqual({ id: 'memory:1', skipped: [] });
    expect(seen).toEqual([notice.message]);
  });
});

describe('composeMessage', () => {
  const base = acceptedMessage(SETTINGS, { ...UPLOAD, remarks: '', changes: '' }).message;

  it('refuses a header value or name that could end its line', async () => {
    await expect(composeMessage({ ...base, subject: 'a\r\nBcc: x@y' })).rejects.toThrow('mail Subject contains');
    await expect(composeMessage({ ...base, headers: { 'X-A': 'v\n' } })).rejects.toThrow('mail X-A contains');
    await expect(composeMessage({ ...base, headers: { 'X-A\r\nBcc': 'v' } })).rejects.toThrow('mail header name');
    await expect(composeMessage({ ...base, to: [{ name: 'a\nb', address: 'a@b' }] })).rejects.toThrow('address name');
  });

  it('dates the message', async () => {
    const raw = (await composeMessage(base, new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toString();
    expect(header(parseEml(raw), 'date')).toBe('Fri, 02 Jan 2026 03:04:05 +0000');
  });
});
