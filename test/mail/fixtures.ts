/**
 * A scratch queue root with a mail configuration, and the four notices about
 * one upload, for the transport and spool tests.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type FarmConfig } from '../../lib/config.js';
import { QueueLayout } from '../../lib/layout.js';
import { createMailer, type FarmMailer } from '../../lib/mail/mailer.js';
import {
  acceptedMessage,
  buildLogMessage,
  installedMessage,
  rejectedMessage,
  type MailSettings,
  type Notice,
  type UploadInfo,
} from '../../lib/mail/messages.js';

export const FARM_FROM = 'farm@farm.example';
export const LIST = 'uploads@lists.example';

export const UPLOAD: UploadInfo = {
  key: '0000000042_hello_1.0-1',
  source: 'hello',
  version: '1.0-1',
  maintainer: 'Jane Doe <jane@example.org>',
  changedBy: 'John Roe <john@example.org>',
};

export interface MailFarm {
  readonly directory: string;
  readonly layout: QueueLayout;
  /** The configuration with `fields` (default: those the farm was made with) in the Farm stanza. */
  config(fields?: readonly string[]): FarmConfig;
  /** A mailer made as the programs make theirs, for `fields` (default: those the farm was made with). */
  mailer(fields?: readonly string[]): FarmMailer;
}

/** A queue root whose Farm stanza has `mailFields` (one `Key: value` per entry) besides From and Copy-To. */
export async function makeMailFarm(mailFields: readonly string[]): Promise<MailFarm> {
  const directory = await mkdtemp(join(tmpdir(), 'opkfarm-mail-'));
  const layout = new QueueLayout(join(directory, 'root'));
  for (const path of layout.directories()) await mkdir(path, { recursive: true });
  await writeFile(layout.configFile, configText(mailFields));
  const config = (fields = mailFields) => parseConfig(configText(fields), layout.configFile);
  return { directory, layout, config, mailer: (fields) => createMailer(config(fields), layout) };
}

/** The text of an opkfarm.conf with these mail fields. */
export function configText(mailFields: readonly string[]): string {
  return (
    [`Farm: test`, `Mail-From: opkfarm <${FARM_FROM}>`, `Mail-Copy-To: ${LIST}`, 'Lease-Seconds: 600', ...mailFields].join('\n') +
    '\n\nQueue: q\nArchitectures: all\n'
  );
}

/** The fields of the SMTP transport without TLS to a sink on 127.0.0.1. */
export function plainSmtp(port: number): string[] {
  return ['Mail-Transport: smtp', 'Mail-SMTP-Host: 127.0.0.1', `Mail-SMTP-Port: ${port}`, 'Mail-SMTP-Security: none'];
}

export async function removeMailFarm(farm: MailFarm | undefined): Promise<void> {
  if (farm !== undefined) await rm(farm.directory, { recursive: true, force: true });
}

/** The four notices about UPLOAD (`info` overrides parts), in pipeline order; writes the build log it attaches. */
export async function allNotices(settings: MailSettings, directory: string, info: Partial<UploadInfo> = {}): Promise<Notice[]> {
  const upload = { ...UPLOAD, ...info };
  const logPath = join(directory, 'build.log');
  await writeFile(logPath, 'configure\nmake\nmake install\n');
  return [
    acceptedMessage(settings, { ...upload, remarks: 'Welcome aboard.', changes: 'Format: 1.8\nSource: hello\n' }),
    rejectedMessage(settings, { ...upload, remarks: 'Add a Homepage.', keptIn: '/srv/rejected/0000000042_hello_1.0-1' }),
    await buildLogMessage(settings, {
      ...upload,
      architecture: 'amd64-linux-glibc',
      platform: 'all',
      succeeded: true,
      host: 'builder1',
      durationSeconds: 42,
      logPath,
      storedLogPath: '/srv/opkfarm/archive/logs/hello/0000000042_hello_1.0-1_amd64-linux-glibc_all.log',
    }),
    installedMessage(settings, { ...upload, suite: 'dev/trunk', files: [{ name: 'hello_1.0-1_amd64-linux-glibc_all.opk', size: 2048 }] }),
  ];
}

/** Names in a spool directory that are messages (no claims/ or failed/ subdirectory, no temporary file). */
export async function spoolNames(directory: string): Promise<string[]> {
  return (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.mail') || name.includes('.mail@')).sort();
}
