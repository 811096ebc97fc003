/**
 * The farm's notices as plain data: accepted, rejected, build log, installed
 * (PIPELINE.md steps 1, 2 and 4). A transport (transport.ts) turns a message
 * into mail; nothing here touches the network or the queue root, except that
 * the build log notice reads the stored log.
 *
 * Recipients are the upload's Maintainer and Changed-By, de-duplicated, with
 * the farm's list address (if configured) in Cc. Both fields are untrusted: an
 * address that does not parse is left out and reported in `skipped`, never
 * repaired and sent to.
 *
 * Every value that reaches a header (source, version, architecture, names...)
 * is made one line here (controls become spaces) and capped in length, so no
 * upload can add a header; compose.ts refuses any that still has a line break.
 *
 * Threading: the accept or reject mail of an upload has a Message-ID derived
 * from the upload key, `<accept.KEY@DOMAIN>` or `<reject.KEY@DOMAIN>`; build
 * logs and the installed mail get unique ids and point at the accept mail with
 * In-Reply-To and References, so a mail client shows one thread per upload.
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { describeError } from '../errors.js';
import { domainProblem, parseAddress, sameAddress, uniqueAddresses, type Address } from './address.js';

/** The farm's own mail settings, resolved once by `mailSettings`. */
export interface MailSettings {
  readonly from: Address;
  /** Right-hand side of the farm's Message-IDs. */
  readonly domain: string;
  /** A list address that gets a copy of every notice. */
  readonly copyTo?: Address;
}

/** One attached file, given inline or as a path read when the message is composed. */
export type MailAttachment =
  | { readonly filename: string; readonly content: string | Uint8Array; readonly contentType?: string }
  | { readonly filename: string; readonly path: string; readonly contentType?: string };

/** A notice ready for a transport. Header-bound fields are single-line. */
export interface MailMessage {
  readonly from: Address;
  readonly to: readonly Address[];
  readonly cc?: readonly Address[];
  readonly subject: string;
  readonly text: string;
  /** Extra header fields (X-Opkfarm-*, Auto-Submitted). */
  readonly headers: Readonly<Record<string, string>>;
  /** `<id@domain>`. */
  readonly messageId: string;
  readonly inReplyTo?: string;
  readonly references?: readonly string[];
  readonly attachments?: readonly MailAttachment[];
  /** The upload key: all mail about one upload shares it. */
  readonly threadKey: string;
}

/** A recipient left out because its field did not hold one valid address. */
export interface SkippedRecipient {
  readonly field: 'Maintainer' | 'Changed-By';
  /** The field as uploaded: untrusted, escape it before logging. */
  readonly value: string;
  readonly reason: string;
}

/** A built message and the recipients it leaves out. */
export interface Notice {
  readonly message: MailMessage;
  readonly skipped: readonly SkippedRecipient[];
}

/** What every notice says about its upload; all but `key` come from the upload and are untrusted. */
export interface UploadInfo {
  /** The upload key (queues-layout/README.md). */
  readonly key: string;
  readonly source: string;
  readonly version: string;
  /** The Maintainer field, undefined when the upload has none. */
  readonly maintainer: string | undefined;
  /** The Changed-By field; undefined means the same as Maintainer. */
  readonly changedBy?: string;
}

/** An upload accepted into the build queues. */
export interface AcceptedInfo extends UploadInfo {
  readonly remarks: string;
  /** The accepted .changes, as text. */
  readonly changes: string;
}

/** An upload moved to `rejected/`. */
export interface RejectedInfo extends UploadInfo {
  /** What to fix. */
  readonly remarks: string;
  /** Where the rejected upload is kept. */
  readonly keptIn: string;
}

/** One finished build of an accepted upload. */
export interface BuildLogInfo extends UploadInfo {
  readonly architecture: string;
  readonly platform: string;
  readonly succeeded: boolean;
  readonly host: string;
  readonly durationSeconds: number;
  /** The build log: its last lines go inline, and the whole log is attached when small. */
  readonly logPath: string;
  /** Where the archive keeps the log once the upload is installed (archive/logs/…), when the caller knows. */
  readonly storedLogPath?: string;
}

/** An upload whose binaries are in the archive. */
export interface InstalledInfo extends UploadInfo {
  readonly suite: string;
  readonly files: readonly { readonly name: string; readonly size: number }[];
  /** Packages of the upload left out of the archive, one line each naming the file and why. */
  readonly leftOut?: readonly string[];
}

/** Control characters (C0, DEL, C1) and the Unicode line and paragraph separators. */
const CONTROLS = /[\p{Cc}\u2028\u2029]+/gu;
/** Controls a body keeps: tab and line feed. */
const BODY_CONTROLS = /[^\P{Cc}\t\n]/gu;
/** Terminal colour and cursor sequences (CSI), common in build logs. */
// eslint-disable-next-line no-control-regex -- matching ESC is the point
const TERMINAL_ESCAPE = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Lines of the build log quoted in the mail. */
export const LOG_TAIL_LINES = 50;
/** Logs smaller than this are attached whole. */
export const LOG_ATTACH_LIMIT = 1024 * 1024;

const MAX_SUBJECT = 200;
const MAX_HEADER_VALUE = 200;
const MAX_ID_PART = 200;
/** How far back from the end of a large log to look for its last lines. */
const MAX_TAIL_BYTES = 256 * 1024;

/** Checks the mail options of the configuration; throws an Error naming the bad option. */
export function mailSettings(options: { from: string; copyTo?: string; domain?: string }): MailSettings {
  const from = settingAddress('from', options.from);
  const copyTo = options.copyTo === undefined ? undefined : settingAddress('copyTo', options.copyTo);
  const domain = options.domain ?? from.address.slice(from.address.lastIndexOf('@') + 1);
  const problem = domainProblem(domain);
  if (problem !== undefined) throw new Error(`mail setting domain: ${JSON.stringify(domain)} ${problem}`);
  return copyTo === undefined ? { from, domain } : { from, domain, copyTo };
}

/** The mail for an accepted upload: the reviewer's remarks, then the .changes; starts the upload's thread. */
export function acceptedMessage(settings: MailSettings, info: AcceptedInfo): Notice {
  const remarks = bodyText(info.remarks).trim() || 'Accepted into the build queues.';
  return notice(settings, info, {
    subject: ['Accepted', info.source, info.version],
    status: 'accepted',
    text: `${remarks}\n\n${bodyText(info.changes).trimEnd()}\n`,
    messageId: threadRootId(settings, 'accept', info.key),
  });
}

/** The mail for a rejected upload: what to fix, then where the upload is kept; starts its own thread. */
export function rejectedMessage(settings: MailSettings, info: RejectedInfo): Notice {
  const remarks = bodyText(info.remarks).trim() || 'Rejected.';
  return notice(settings, info, {
    subject: ['Rejected', info.source, info.version],
    status: 'rejected',
    text: `${remarks}\n\nThe upload is kept in ${bodyText(info.keptIn)}\n`,
    messageId: threadRootId(settings, 'reject', info.key),
  });
}

/** The mail for one build: status, host, duration, the log's last lines; the log attached when under 1 MiB. */
export async function buildLogMessage(settings: MailSettings, info: BuildLogInfo): Promise<Notice> {
  const status = info.succeeded ? 'succeeded' : 'failed';
  const log = await readLog(info.logPath);
  const seconds = Math.max(0, Math.round(info.durationSeconds));
  const lines = [
    `Status: ${status}`,
    `Host: ${headerText(info.host)}`,
    `Duration: ${seconds} s`,
    '',
  ];
  if ('problem' in log) {
    lines.push(`The build log could not be read: ${bodyText(log.problem)}`);
  } else {
    lines.push(`Last ${LOG_TAIL_LINES} lines of the log:`, '', ...log.tail, '');
    lines.push(
      log.whole === undefined
        ? `The log is ${log.size} bytes, too large to attach.`
        : 'The whole log is attached.',
    );
  }
  lines.push(
    info.storedLogPath === undefined
      ? `The log is stored in ${bodyText(info.logPath)}`
      : `The log is stored in ${bodyText(info.logPath)} until the upload is installed, then in ${bodyText(info.storedLogPath)}`,
  );
  const attachments =
    'problem' in log || log.whole === undefined
      ? undefined
      : [{ filename: logFileName(info), content: log.whole, contentType: 'text/plain; charset=utf-8' }];
  return notice(settings, info, {
    subject: ['Build', status, info.source, info.version, `${info.architecture}/${info.platform}`],
    status: info.succeeded ? 'built' : 'failed',
    text: `${lines.join('\n')}\n`,
    messageId: uniqueId(settings, 'build', info.key),
    replyToThread: true,
    headers: {
      'X-Opkfarm-Architecture': headerText(info.architecture),
      'X-Opkfarm-Platform': headerText(info.platform),
    },
    attachments,
  });
}

/** The mail for an upload whose binaries are in the archive: each binary file with its size. */
export function installedMessage(settings: MailSettings, info: InstalledInfo): Notice {
  const files = info.files.map((file) => `  ${headerText(file.name)}  ${file.size} bytes`);
  const text = [
    `${headerText(info.source)} ${headerText(info.version)} is installed in ${headerText(info.suite)}.`,
    '',
    ...(files.length > 0 ? files : ['  (no binary files)']),
    ...(info.leftOut !== undefined && info.leftOut.length > 0
      ? ['', 'Left out of the archive:', ...info.leftOut.map((line) => `  ${headerText(line, MAX_LEFT_OUT_LINE)}`)]
      : []),
  ];
  return notice(settings, info, {
    subject: ['Installed', info.source, info.version, 'in', info.suite],
    status: 'installed',
    text: `${text.join('\n')}\n`,
    messageId: uniqueId(settings, 'installed', info.key),
    replyToThread: true,
  });
}

function settingAddress(option: string, value: string): Address {
  const parsed = parseAddress(value);
  if (typeof parsed === 'string') throw new Error(`mail setting ${option}: ${JSON.stringify(value)} ${parsed}`);
  return parsed;
}

interface NoticeParts {
  readonly subject: readonly string[];
  readonly status: 'accepted' | 'rejected' | 'built' | 'failed' | 'installed';
  readonly text: string;
  readonly messageId: string;
  /** Whether the message follows up the accept mail. */
  readonly replyToThread?: boolean;
  readonly headers?: Record<string, string>;
  readonly attachments?: MailAttachment[] | undefined;
}

function notice(settings: MailSettings, info: UploadInfo, parts: NoticeParts): Notice {
  const { to, cc, skipped } = recipients(settings, info);
  const root = threadRootId(settings, 'accept', info.key);
  const message: MailMessage = {
    from: settings.from,
    to,
    ...(cc.length > 0 ? { cc } : {}),
    subject: subjectLine(parts.subject),
    text: parts.text,
    headers: {
      // RFC 3834: tells vacation responders not to answer.
      'Auto-Submitted': 'auto-generated',
      'X-Opkfarm-Source': headerText(info.source),
      'X-Opkfarm-Version': headerText(info.version),
      'X-Opkfarm-Status': parts.status,
      ...parts.headers,
    },
    messageId: parts.messageId,
    ...(parts.replyToThread ? { inReplyTo: root, references: [root] } : {}),
    ...(parts.attachments ? { attachments: parts.attachments } : {}),
    threadKey: info.key,
  };
  return { message, skipped };
}

function recipients(
  settings: MailSettings,
  info: UploadInfo,
): { to: Address[]; cc: Address[]; skipped: SkippedRecipient[] } {
  const found: Address[] = [];
  const skipped: SkippedRecipient[] = [];
  const fields: [SkippedRecipient['field'], string | undefined][] = [
    ['Maintainer', info.maintainer],
    ['Changed-By', info.changedBy],
  ];
  for (const [field, value] of fields) {
    if (value === undefined) {
      if (field === 'Maintainer') skipped.push({ field, value: '', reason: 'is missing' });
      continue;
    }
    const parsed = parseAddress(value);
    if (typeof parsed === 'string') skipped.push({ field, value, reason: parsed });
    else found.push(parsed);
  }
  const to = uniqueAddresses(found);
  const copyTo = settings.copyTo;
  const cc = copyTo !== undefined && !to.some((address) => sameAddress(address, copyTo)) ? [copyTo] : [];
  return { to, cc, skipped };
}

/** The id of the first mail about an upload: deterministic, so later mail can refer to it. */
function threadRootId(settings: MailSettings, kind: 'accept' | 'reject', key: string): string {
  return `<${kind}.${idPart(key)}@${settings.domain}>`;
}

function uniqueId(settings: MailSettings, kind: string, key: string): string {
  return `<${kind}.${idPart(key)}.${Date.now().toString(36)}.${randomBytes(6).toString('hex')}@${settings.domain}>`;
}

/**
 * The key as the dot-atom-text of a msg-id (RFC 5322): characters outside a
 * safe set, and dots that would start, end or double, become `=XX` (UTF-8 hex).
 */
function idPart(key: string): string {
  let part = '';
  const chars = [...key];
  chars.forEach((char, index) => {
    const safe = /^[A-Za-z0-9_+~-]$/.test(char) || (char === '.' && index > 0 && index < chars.length - 1 && !part.endsWith('.'));
    part += safe ? char : [...Buffer.from(char)].map((byte) => `=${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  });
  return truncate(part === '' ? 'upload' : part, MAX_ID_PART, '');
}

/** One line of untrusted text, for a header or a body line: controls and line breaks become spaces, length capped. */
/** A left-out line is a file name and a reason; longer ones are cut. */
const MAX_LEFT_OUT_LINE = 500;

function headerText(value: string, max = MAX_HEADER_VALUE): string {
  return truncate(value.replace(CONTROLS, ' ').replace(/\s+/g, ' ').trim(), max, '…');
}

function subjectLine(parts: readonly string[]): string {
  return headerText(parts.map((part) => headerText(part)).join(' '), MAX_SUBJECT);
}

/** Body text: line breaks normalized to LF, terminal escapes and other controls (but tab) removed. */
function bodyText(value: string): string {
  return value
    .replace(/\r\n?/g, '\n')
    .replace(TERMINAL_ESCAPE, '')
    .replace(BODY_CONTROLS, '');
}

/** At most `max` code points (never splitting a surrogate pair), `suffix` marking a cut. */
function truncate(value: string, max: number, suffix: string): string {
  const points = [...value];
  return points.length <= max ? value : points.slice(0, max - [...suffix].length).join('') + suffix;
}

function logFileName(info: BuildLogInfo): string {
  return `${info.source}_${info.version}_${info.architecture}_${info.platform}.log`.replace(/[^A-Za-z0-9._+~-]/g, '_').replace(/^\.+/, '');
}

type LogRead = { problem: string } | { tail: string[]; size: number; whole?: Buffer };

/** The log's last lines, and the whole log when it is small enough to attach. */
async function readLog(path: string): Promise<LogRead> {
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const whole = size < LOG_ATTACH_LIMIT;
      const length = whole ? size : Math.min(size, MAX_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, size - length);
      const data = buffer.subarray(0, bytesRead);
      const tail = logTail(data.toString('utf8'), !whole && length < size);
      return whole ? { tail, size, whole: data } : { tail, size };
    } finally {
      await handle.close();
    }
  } catch (error) {
    return { problem: describeError(error) };
  }
}

function logTail(text: string, cut: boolean): string[] {
  const lines = bodyText(text).replace(/\n$/, '').split('\n');
  // A read that starts mid-file starts mid-line; that partial line is not quoted.
  if (cut) lines.shift();
  return lines.slice(-LOG_TAIL_LINES);
}
