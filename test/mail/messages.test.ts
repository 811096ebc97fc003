import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  acceptedMessage,
  buildLogMessage,
  installedMessage,
  LOG_ATTACH_LIMIT,
  mailSettings,
  rejectedMessage,
  type UploadInfo,
} from '../../lib/mail/messages.js';

const SETTINGS = mailSettings({ from: 'opkfarm <farm@farm.example>', copyTo: 'opk-uploads@lists.example' });
const UPLOAD: UploadInfo = {
  key: '0000000042_hello_1.0-1',
  source: 'hello',
  version: '1:1.0-1',
  maintainer: 'Jane Doe <jane@example.org>',
  changedBy: 'John Roe <john@example.org>',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opkfarm-mail-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mailSettings', () => {
  it('takes the Message-ID domain from the sender unless given', () => {
    expect(SETTINGS).toEqual({
      from: { name: 'opkfarm', address: 'farm@farm.example' },
      domain: 'farm.example',
      copyTo: { address: 'opk-uploads@lists.example' },
    });
    expect(mailSettings({ from: 'farm@a.example', domain: 'b.example' }).domain).toBe('b.example');
  });

  it('names the bad option', () => {
    expect(() => mailSettings({ from: 'farm' })).toThrow('mail setting from: "farm" has no "@"');
    expect(() => mailSettings({ from: 'f@a.example', copyTo: 'x\ny' })).toThrow('mail setting copyTo');
    expect(() => mailSettings({ from: 'f@a.example', domain: 'a b' })).toThrow('mail setting domain');
  });
});

describe('recipients', () => {
  it('sends to Maintainer and Changed-By, with the list in Cc', () => {
    const { message, skipped } = acceptedMessage(SETTINGS, { ...UPLOAD, remarks: '', changes: '' });
    expect(message.from).toEqual({ name: 'opkfarm', address: 'farm@farm.example' });
    expect(message.to).toEqual([
      { name: 'Jane Doe', address: 'jane@example.org' },
      { name: 'John Roe', address: 'john@example.org' },
    ]);
    expect(message.cc).toEqual([{ address: 'opk-uploads@lists.example' }]);
    expect(skipped).toEqual([]);
  });

  it('de-duplicates case-insensitively, also against the list address', () => {
    const settings = mailSettings({ from: 'farm@farm.example', copyTo: 'JANE@example.org' });
    const { message } = acceptedMessage(settings, {
      ...UPLOAD,
      changedBy: 'J. Doe <Jane@Example.ORG>',
      remarks: '',
      changes: '',
    });
    expect(message.to).toEqual([{ name: 'Jane Doe', address: 'jane@example.org' }]);
    expect(message.cc).toBeUndefined();
  });

  it('leaves out and reports an address that does not parse', () => {
    const { message, skipped } = rejectedMessage(SETTINGS, {
      ...UPLOAD,
      maintainer: 'Evil <a@b>\r\nBcc: victim@x',
      remarks: 'Fix it.',
      keptIn: '/srv/rejected/k',
    });
    expect(message.to).toEqual([{ name: 'John Roe', address: 'john@example.org' }]);
    expect(skipped).toEqual([
      { field: 'Maintainer', value: 'Evil <a@b>\r\nBcc: victim@x', reason: 'contains a line break' },
    ]);
  });

  it('reports a missing Maintainer; a missing Changed-By means the Maintainer', () => {
    const missing = rejectedMessage(SETTINGS, { ...UPLOAD, maintainer: undefined, remarks: '', keptIn: 'x' });
    expect(missing.skipped).toEqual([{ field: 'Maintainer', value: '', reason: 'is missing' }]);
    const same = rejectedMessage(SETTINGS, { ...UPLOAD, changedBy: undefined, remarks: '', keptIn: 'x' });
    expect(same.message.to).toEqual([{ name: 'Jane Doe', address: 'jane@example.org' }]);
    expect(same.skipped).toEqual([]);
  });
});

describe('the notices', () => {
  it('accepted: subject, filter headers, remarks then the .changes, the thread root id', () => {
    const { message } = acceptedMessage(SETTINGS, {
      ...UPLOAD,
      remarks: 'Looks good.\r\nThanks!\r\n',
      changes: 'Format: 1.8\nSource: hello\n',
    });
    expect(message.subject).toBe('Accepted hello 1:1.0-1');
    expect(message.text).toBe('Looks good.\nThanks!\n\nFormat: 1.8\nSource: hello\n');
    expect(message.headers).toEqual({
      'Auto-Submitted': 'auto-generated',
      'X-Opkfarm-Source': 'hello',
      'X-Opkfarm-Version': '1:1.0-1',
      'X-Opkfarm-Status': 'accepted',
    });
    expect(message.messageId).toBe('<accept.0000000042_hello_1.0-1@farm.example>');
    expect(message.inReplyTo).toBeUndefined();
    expect(message.references).toBeUndefined();
    expect(message.threadKey).toBe(UPLOAD.key);
  });

  it('rejected: remarks then where the upload is kept, its own deterministic id', () => {
    const { message } = rejectedMessage(SETTINGS, {
      ...UPLOAD,
      remarks: 'Checksums-Sha256 does not match.',
      keptIn: '/srv/opkfarm/rejected/0000000042_hello_1.0-1',
    });
    expect(message.subject).toBe('Rejected hello 1:1.0-1');
    expect(message.headers['X-Opkfarm-Status']).toBe('rejected');
    expect(message.text).toBe(
      'Checksums-Sha256 does not match.\n\nThe upload is kept in /srv/opkfarm/rejected/0000000042_hello_1.0-1\n',
    );
    expect(message.messageId).toBe('<reject.0000000042_hello_1.0-1@farm.example>');
  });

  it('build log: status, host, duration, the last 50 lines, the path; a small log attached', async () => {
    const logPath = join(dir, 'amd64_linux.log');
    const log = Array.from({ length: 80 }, (_, i) => `line ${i + 1} \u001b[1;31mcolour\u001b[0m`).join('\n') + '\n';
    await writeFile(logPath, log);
    const { message } = await buildLogMessage(SETTINGS, {
      ...UPLOAD,
      architecture: 'amd64',
      platform: 'linux',
      succeeded: true,
      host: 'builder1',
      durationSeconds: 61.6,
      logPath,
    });
    expect(message.subject).toBe('Build succeeded hello 1:1.0-1 amd64/linux');
    expect(message.headers['X-Opkfarm-Status']).toBe('built');
    expect(message.headers['X-Opkfarm-Architecture']).toBe('amd64');
    const tail = Array.from({ length: 50 }, (_, i) => `line ${i + 31} colour`);
    expect(message.text).toBe(
      ['Status: succeeded', 'Host: builder1', 'Duration: 62 s', '', 'Last 50 lines of the log:', '', ...tail, '']
        .concat(['The whole log is attached.', `The log is stored in ${logPath}`, ''])
        .join('\n'),
    );
    expect(message.attachments).toHaveLength(1);
    const attachment = message.attachments?.[0];
    expect(attachment?.filename).toBe('hello_1_1.0-1_amd64_linux.log');
    expect(attachment && 'content' in attachment ? Buffer.from(attachment.content).toString() : '').toBe(log);
    expect(message.messageId).toMatch(/^<build\.0000000042_hello_1\.0-1\.[a-z0-9]+\.[0-9a-f]{12}@farm\.example>$/);
    expect(message.inReplyTo).toBe('<accept.0000000042_hello_1.0-1@farm.example>');
    expect(message.references).toEqual(['<accept.0000000042_hello_1.0-1@farm.example>']);
  });

  it('build log: a failed build; a large log is quoted, not attached', async () => {
    const logPath = join(dir, 'big.log');
    const line = `${'x'.repeat(99)}\n`;
    const lines = Math.ceil(LOG_ATTACH_LIMIT / line.length) + 10;
    await writeFile(logPath, `${line.repeat(lines - 1)}error: the end\n`);
    const { message } = await buildLogMessage(SETTINGS, {
      ...UPLOAD,
      architecture: 'arm',
      platform: 'linux',
      succeeded: false,
      host: 'b2',
      durationSeconds: 3,
      logPath,
    });
    expect(message.subject).toBe('Build failed hello 1:1.0-1 arm/linux');
    expect(message.headers['X-Opkfarm-Status']).toBe('failed');
    expect(message.attachments).toBeUndefined();
    expect(message.text).toContain(`${'x'.repeat(99)}\nerror: the end\n\nThe log is ${lines * 100 - 85} bytes, too large`);
    expect(message.text.split('\n').filter((l) => l === 'x'.repeat(99))).toHaveLength(49);
  });

  it('build log: a missing log is said in the mail, which still goes out', async () => {
    const { message } = await buildLogMessage(SETTINGS, {
      ...UPLOAD,
      architecture: 'amd64',
      platform: 'linux',
      succeeded: false,
      host: 'b1',
      durationSeconds: 0,
      logPath: join(dir, 'missing.log'),
    });
    expect(message.text).toContain('The build log could not be read: ENOENT');
    expect(message.attachments).toBeUndefined();
  });

  it('installed: every binary file with its size, in the upload thread', () => {
    const { message } = installedMessage(SETTINGS, {
      ...UPLOAD,
      suite: 'trunk',
      files: [
        { name: 'hello_1.0-1_amd64_linux.opk', size: 12345 },
        { name: 'hello-doc_1.0-1_all_all.opk', size: 678 },
      ],
    });
    expect(message.subject).toBe('Installed hello 1:1.0-1 in trunk');
    expect(message.headers['X-Opkfarm-Status']).toBe('installed');
    expect(message.text).toBe(
      'hello 1:1.0-1 is installed in trunk.\n\n  hello_1.0-1_amd64_linux.opk  12345 bytes\n  hello-doc_1.0-1_all_all.opk  678 bytes\n',
    );
    expect(message.messageId).toMatch(/^<installed\.0000000042_hello_1\.0-1\./);
    expect(message.references).toEqual(['<accept.0000000042_hello_1.0-1@farm.example>']);
  });

  it('installed: and every package left out, with the reason, on one line each', () => {
    const { message } = installedMessage(SETTINGS, {
      ...UPLOAD,
      suite: 'trunk',
      files: [],
      leftOut: ['hello_1.0-1_all_all.opk: data.tar.gz: entry "./../escape": path has a ".." component', 'evil.opk: a\r\nBcc: x'],
    });
    expect(message.text).toBe(
      'hello 1:1.0-1 is installed in trunk.\n\n  (no binary files)\n\nLeft out of the archive:\n' +
        '  hello_1.0-1_all_all.opk: data.tar.gz: entry "./../escape": path has a ".." component\n  evil.opk: a Bcc: x\n',
    );
  });
});

describe('untrusted values in headers', () => {
  it('makes source, version and architecture one line and caps the subject', () => {
    const { message } = installedMessage(SETTINGS, {
      ...UPLOAD,
      source: 'hello\nX-Injected: 1',
      version: '1.0\r\n\r\nbody\u0000',
      suite: 's'.repeat(500),
      files: [],
    });
    expect(message.headers['X-Opkfarm-Source']).toBe('hello X-Injected: 1');
    expect(message.headers['X-Opkfarm-Version']).toBe('1.0 body');
    expect(message.subject.startsWith('Installed hello X-Injected: 1 1.0 body in sss')).toBe(true);
    expect([...message.subject]).toHaveLength(200);
    expect(message.subject.endsWith('…')).toBe(true);
    for (const value of [message.subject, ...Object.values(message.headers)]) {
      expect(value).not.toMatch(/[\r\n\p{Cc}]/u);
    }
  });

  it('keeps a hostile key inside the Message-ID', () => {
    const { message } = acceptedMessage(SETTINGS, { ...UPLOAD, key: '.a..b:c> d\n', remarks: '', changes: '' });
    expect(message.messageId).toBe('<accept.=2Ea.=2Eb=3Ac=3E=20d=0A@farm.example>');
  });
});
