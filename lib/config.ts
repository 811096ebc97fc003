/**
 * The farm configuration (`opkfarm.conf`, queues-layout/opkfarm.conf.example):
 * deb822 stanzas with `#` comments. The first stanza describes the farm, each
 * following one a build queue and the architectures it serves.
 *
 * The file is validated once, here: every problem is a FormatError naming the
 * file, the line and the key, and the rest of opkfarm trusts the typed
 * FarmConfig this returns.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { EnvironmentError, FormatError } from './errors.js';
import { architectureProblem, isConcreteArchitecture, isWildcard, platformProblem, ALL, ANY, SRC } from './formats/architecture.js';
import { listValue, parseControl, type Stanza } from './formats/control.js';
import { DEFAULT_THRESHOLDS, type HealthThresholds } from './health/types.js';

/** How mail leaves the farm: files in the outbox, an SMTP server, or the local sendmail program. */
export type MailTransport = 'outbox' | 'smtp' | 'sendmail';

/** The mail settings every transport shares. */
interface CommonMailSettings {
  /** The sender of every mail: an address or `Name <address>`. */
  readonly from: string;
  /** An address that receives a copy of every mail, when set. */
  readonly copyTo?: string;
}

export type MailSettings =
  | (CommonMailSettings & { readonly transport: 'outbox' })
  | (CommonMailSettings & { readonly transport: 'smtp'; readonly smtp: SmtpSettings })
  | (CommonMailSettings & { readonly transport: 'sendmail'; readonly sendmail: SendmailSettings });

/** `starttls`: plain connection upgraded with STARTTLS, required; `tls`: TLS from the start; `none`: no TLS. */
export type SmtpSecurity = 'starttls' | 'tls' | 'none';

/** The SMTP server the farm submits its mail to. */
export interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  readonly security: SmtpSecurity;
  /** The login, when the server wants one: the password is read from `passwordFile`, never written here. */
  readonly login?: { readonly user: string; readonly passwordFile: string };
  /** PEM certificates to trust besides the system's (a private CA, a self-signed server). */
  readonly caFile?: string;
}

/** The local mail submission program, called as `<command…> -i -f <from> -- <recipients…>`. */
export interface SendmailSettings {
  readonly command: readonly [string, ...string[]];
}

/** How a build queue builds: opkfarm's own builder, or an external command. */
export type BuilderSettings = BuiltinBuilder | CommandBuilder;

/** How builds are confined (lib/build/sandbox.ts): bwrap when usable (`auto`), always (`bwrap`), or never. */
export type SandboxMode = 'auto' | 'bwrap' | 'none';

/** What every builder shares: its sandbox and its limits. */
interface BuildSettings {
  /** A build running longer is killed and recorded as failed. */
  readonly timeoutSeconds: number;
  readonly sandbox: SandboxMode;
  /** A build whose log grows past this fails; its log is cut there. */
  readonly logLimitBytes: number;
  /** A build whose output directory holds more fails. */
  readonly outputLimitBytes: number;
}

export interface BuiltinBuilder extends BuildSettings {
  readonly kind: 'builtin';
}

export interface CommandBuilder extends BuildSettings {
  readonly kind: 'command';
  /** Program and arguments, split on whitespace; run without a shell. */
  readonly command: readonly [string, ...string[]];
}

/** One build queue: `queues/buildd/<name>/`. */
export interface QueueConfig {
  readonly name: string;
  /** Concrete architectures it serves: `all` or real names, in the file's order. */
  readonly architectures: readonly string[];
  /** Platform names it builds besides `all`, in the file's order. */
  readonly platforms: readonly string[];
  /** The farm's builder with this queue's overrides applied. */
  readonly builder: BuilderSettings;
}

/** What `opkfarm archive gc` keeps and how much it deletes, unless its options say otherwise. */
export interface ArchiveSettings {
  /** The newest pool files of each package (and architecture/platform) kept whatever refers to them. */
  readonly keepBuilds: number;
  /** How long a pool file no index lists stays (mirrors lag), in hours. */
  readonly graceHours: number;
  /** Deletions per gc run at most. */
  readonly gcLimit: number;
  /**
   * How long archived waits, when other uploads are on their way, for them
   * to join a batch (group commit): 0 includes every entry at once.
   */
  readonly batchWaitMilliseconds: number;
}

export interface FarmConfig {
  /** The farm's name (`Farm`), for mail and logs. */
  readonly name: string;
  /** The distributions uploads may target. */
  readonly distributions: readonly string[];
  readonly mail: MailSettings;
  /** The farm-wide builder, used by every queue that does not override it. */
  readonly builder: BuilderSettings;
  /** How long a claim by another host lives without a heartbeat (I8). */
  readonly leaseSeconds: number;
  /** Interval of the periodic rescan that backs up file system events (I7). */
  readonly rescanSeconds: number;
  /** Garbage collection of the archive's pool (opkfarm archive gc). */
  readonly archive: ArchiveSettings;
  /**
   * How long an upload may wait in incoming/ for its files, and a file no
   * .changes lists may sit there, before they are reported as problems (I9).
   */
  readonly uploadWaitSeconds: number;
  /**
   * Bytes an opk's data archive may inflate to (Unpacked-Size-Limit): accept
   * refuses a larger source package, buildd will not unpack one, archived
   * refuses a larger binary, so a small compressed bomb fills no disk.
   */
  readonly unpackedLimitBytes: number;
  /** When `opkfarm health` calls something stuck, late or short (Health-*). */
  readonly health: HealthThresholds;
  /** The build queues, in the file's order. */
  readonly queues: readonly QueueConfig[];
  /** Each served architecture and the queue serving it: what routing and `queues/arch/` follow. */
  readonly servedArchitectures: ReadonlyMap<string, string>;
}

/** Keys of the builder, in the Farm stanza (every queue's default) and in a Queue stanza (its own). */
const BUILDER_KEYS = ['Builder', 'Builder-Command', 'Build-Timeout', 'Builder-Sandbox', 'Build-Log-Limit', 'Build-Output-Limit'] as const;
const FARM_KEYS = [
  'Farm',
  'Distributions',
  'Mail-From',
  'Mail-Transport',
  'Mail-Copy-To',
  'Mail-SMTP-Host',
  'Mail-SMTP-Port',
  'Mail-SMTP-Security',
  'Mail-SMTP-User',
  'Mail-SMTP-Password-File',
  'Mail-SMTP-CA-File',
  'Mail-Sendmail-Command',
  ...BUILDER_KEYS,
  'Lease-Seconds',
  'Rescan-Seconds',
  'Archive-Keep-Builds',
  'Archive-Grace-Hours',
  'Archive-GC-Limit',
  'Archive-Batch-Wait-Milliseconds',
  'Upload-Wait-Seconds',
  'Unpacked-Size-Limit',
  'Health-Heartbeat-Seconds',
  'Health-Queue-Age-Seconds',
  'Health-Archive-Queue-Age-Seconds',
  'Health-Failed-Build-Window-Seconds',
  'Health-Leftover-Age-Seconds',
  'Health-Release-Lag-Days',
  'Health-Free-Space-Percent',
] as const;
const QUEUE_KEYS = ['Queue', 'Architectures', 'Platforms', ...BUILDER_KEYS] as const;

const DEFAULT_DISTRIBUTIONS = ['trunk'];
const DEFAULT_MAIL_FROM = 'opkfarm <opkfarm@localhost>';
const DEFAULT_BUILD_TIMEOUT = 3600;
const DEFAULT_LOG_LIMIT = 64 * 1024 ** 2;
const DEFAULT_OUTPUT_LIMIT = 4 * 1024 ** 3;
const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'bwrap', 'none'];
/** Size suffixes: binary multiples, as du and ls -h print them. */
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const DEFAULT_LEASE_SECONDS = 600;
const DEFAULT_RESCAN_SECONDS = 30;
/**
 * Two builds of each package, a day of grace (ProteanOS kept unreferenced files a day), 1,000 deletions a
 * run; a batch waits 200 ms for uploads on their way, within the 250 ms the pipeline may take per upload.
 */
const DEFAULT_ARCHIVE: ArchiveSettings = { keepBuilds: 2, graceHours: 24, gcLimit: 1000, batchWaitMilliseconds: 200 };
/** A batch wait longer than this would hold every upload back for nothing: a build takes longer. */
const MAX_BATCH_WAIT_MILLISECONDS = 10_000;
/** A day: an upload over a slow line finishes well within it, and a forgotten one is noticed the next day. */
const DEFAULT_UPLOAD_WAIT_SECONDS = 86_400;
const DEFAULT_UNPACKED_LIMIT = 4 * 1024 ** 3;
const MAIL_TRANSPORTS: readonly MailTransport[] = ['outbox', 'smtp', 'sendmail'];
const SMTP_SECURITIES: readonly SmtpSecurity[] = ['starttls', 'tls', 'none'];
/** The submission port of each security: 587 (RFC 6409), 465 (RFC 8314), 25. */
const DEFAULT_SMTP_PORTS: Readonly<Record<SmtpSecurity, number>> = { starttls: 587, tls: 465, none: 25 };
const SMTP_KEYS = ['Mail-SMTP-Host', 'Mail-SMTP-Port', 'Mail-SMTP-Security', 'Mail-SMTP-User', 'Mail-SMTP-Password-File', 'Mail-SMTP-CA-File'];
const SENDMAIL_KEYS = ['Mail-Sendmail-Command'];
const DEFAULT_SENDMAIL: readonly [string, ...string[]] = ['/usr/sbin/sendmail'];
const BUILDERS = ['builtin', 'command'] as const;
/** Node's timers hold at most 2^31-1 ms and fire at once beyond it, so no period may be longer. */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

const FARM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const QUEUE_NAME = /^[a-z0-9][a-z0-9.+-]*$/;
const DISTRIBUTION = /^[a-z0-9][a-z0-9.+-]*$/;
const ADDRESS = /^[^<>\s@]+@[^<>\s@]+$/;
const NAMED_ADDRESS = /^[^<>\s][^<>\n]* <([^<>\s]+)>$/;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const SMTP_USER = /^[^\s\p{Cc}]+$/u;

/** Reads and validates a configuration file. */
export async function loadConfig(path: string): Promise<FarmConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new EnvironmentError(`cannot read the configuration ${path}: ${errorCode(error)}`, { cause: error });
  }
  return parseConfig(text, path);
}

/** Validates a configuration; `file` names it in errors. Throws a FormatError for the first problem. */
export function parseConfig(text: string, file: string): FarmConfig {
  const stanzas = parseControl(text, { file, allowComments: true });
  const [farmStanza, ...queueStanzas] = stanzas;
  if (!farmStanza) {
    throw new FormatError('control.missing-field', file, 'no Farm stanza: the configuration must start with "Farm: <name>"');
  }
  const farm = new Fields(file, farmStanza, 'Farm', FARM_KEYS, QUEUE_KEYS);
  const name = readFarmName(farm);
  const distributions = readDistributions(farm);
  const mail = readMail(farm);
  const builder = readBuilder(farm, undefined);
  const leaseSeconds = farm.seconds('Lease-Seconds') ?? DEFAULT_LEASE_SECONDS;
  const rescanSeconds = farm.seconds('Rescan-Seconds') ?? DEFAULT_RESCAN_SECONDS;
  const archive: ArchiveSettings = {
    keepBuilds: farm.count('Archive-Keep-Builds') ?? DEFAULT_ARCHIVE.keepBuilds,
    graceHours: farm.count('Archive-Grace-Hours') ?? DEFAULT_ARCHIVE.graceHours,
    gcLimit: farm.count('Archive-GC-Limit') ?? DEFAULT_ARCHIVE.gcLimit,
    batchWaitMilliseconds: farm.count('Archive-Batch-Wait-Milliseconds') ?? DEFAULT_ARCHIVE.batchWaitMilliseconds,
  };
  if (archive.batchWaitMilliseconds > MAX_BATCH_WAIT_MILLISECONDS) {
    farm.fail('Archive-Batch-Wait-Milliseconds', `Archive-Batch-Wait-Milliseconds must be at most ${MAX_BATCH_WAIT_MILLISECONDS}, not ${archive.batchWaitMilliseconds}`);
  }
  const uploadWaitSeconds = farm.seconds('Upload-Wait-Seconds') ?? DEFAULT_UPLOAD_WAIT_SECONDS;
  const unpackedLimitBytes = farm.bytes('Unpacked-Size-Limit') ?? DEFAULT_UNPACKED_LIMIT;
  const health = readHealth(farm);

  if (queueStanzas.length === 0) {
    throw new FormatError('control.stanza-count', file, 'no build queues: add a "Queue: <name>" stanza after the Farm stanza');
  }
  const queues: QueueConfig[] = [];
  const queueLines = new Map<string, number | undefined>();
  const servedArchitectures = new Map<string, string>();
  for (const stanza of queueStanzas) {
    const fields = new Fields(file, stanza, 'Queue', QUEUE_KEYS, FARM_KEYS);
    const queue = readQueue(fields, builder);
    if (queueLines.has(queue.name)) {
      fields.fail('Queue', `queue ${quote(queue.name)} is defined twice (first at line ${queueLines.get(queue.name)})`);
    }
    queueLines.set(queue.name, fields.firstLine);
    for (const architecture of queue.architectures) {
      const other = servedArchitectures.get(architecture);
      if (other !== undefined) {
        fields.fail(
          'Architectures',
          `architecture ${quote(architecture)} is served by both queue ${quote(other)} and queue ${quote(queue.name)}`,
        );
      }
      servedArchitectures.set(architecture, queue.name);
    }
    queues.push(queue);
  }
  return {
    name,
    distributions,
    mail,
    builder,
    leaseSeconds,
    rescanSeconds,
    uploadWaitSeconds,
    unpackedLimitBytes,
    archive,
    health,
    queues,
    servedArchitectures,
  };
}

/** The health check's thresholds: each key left out keeps its default (DEFAULT_THRESHOLDS). */
function readHealth(farm: Fields): HealthThresholds {
  const ages = (key: string) => farm.warningAndCritical(key, (value) => farm.secondsIn(key, value));
  const freePercent = farm.warningAndCritical('Health-Free-Space-Percent', (value) => farm.percent('Health-Free-Space-Percent', value), 'below');
  const releaseLagDays = farm.count('Health-Release-Lag-Days');
  if (releaseLagDays === 0) farm.fail('Health-Release-Lag-Days', 'Health-Release-Lag-Days must be at least 1');
  return {
    heartbeatStale: farm.seconds('Health-Heartbeat-Seconds') ?? DEFAULT_THRESHOLDS.heartbeatStale,
    queueAge: ages('Health-Queue-Age-Seconds') ?? DEFAULT_THRESHOLDS.queueAge,
    archiveQueueAge: ages('Health-Archive-Queue-Age-Seconds') ?? DEFAULT_THRESHOLDS.archiveQueueAge,
    failedBuildWindow: farm.seconds('Health-Failed-Build-Window-Seconds') ?? DEFAULT_THRESHOLDS.failedBuildWindow,
    leftoverAge: farm.seconds('Health-Leftover-Age-Seconds') ?? DEFAULT_THRESHOLDS.leftoverAge,
    releaseLag: releaseLagDays === undefined ? DEFAULT_THRESHOLDS.releaseLag : releaseLagDays * 86400,
    freeSpace: freePercent === undefined ? DEFAULT_THRESHOLDS.freeSpace : [freePercent[0] / 100, freePercent[1] / 100],
  };
}

/** The fields of one stanza, with error reporting at the right line. */
class Fields {
  readonly firstLine: number | undefined;

  constructor(
    readonly file: string,
    readonly stanza: Stanza,
    /** `Farm` or `Queue`: the key that must open the stanza. */
    readonly kind: 'Farm' | 'Queue',
    readonly keys: readonly string[],
    /** The keys of the other kind of stanza, for a better message when one is misplaced. */
    readonly otherKeys: readonly string[],
  ) {
    const first = stanza.names()[0] ?? '';
    this.firstLine = stanza.lineOf(first);
    if (first.toLowerCase() !== kind.toLowerCase()) this.failAtStart(first);
    for (const name of stanza.names()) this.checkKnown(name);
  }

  /** The value of a key, or undefined when absent; an empty value is an error. */
  value(key: string): string | undefined {
    const value = this.stanza.get(key);
    if (value === '') this.fail(key, `${key} is empty (leave the key out for the default)`);
    return value;
  }

  /** The value of a key every stanza of this kind must have. */
  required(key: string, what: string): string {
    const value = this.value(key);
    if (value === undefined) {
      throw new FormatError('control.missing-field', this.file, `missing required key "${key}" in ${what}`, this.firstLine);
    }
    return value;
  }

  /** A whole number, 0 or more, or undefined when absent. */
  count(key: string): number | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (!/^[0-9]{1,9}$/.test(value)) this.fail(key, `${key} must be a whole number (0 or more), not ${quote(value)}`);
    return Number(value);
  }

  /** A positive whole number of seconds, or undefined when absent. */
  seconds(key: string): number | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (!/^[0-9]+$/.test(value)) this.fail(key, `${key} must be a whole number of seconds, not ${quote(value)}`);
    const seconds = Number(value);
    if (seconds < 1) this.fail(key, `${key} must be at least 1 second, not ${quote(value)}`);
    if (seconds > MAX_SECONDS) {
      this.fail(key, `${key} must be at most ${MAX_SECONDS} seconds (about 24 days), not ${quote(value)}`);
    }
    return seconds;
  }

  /**
   * Two values, a warning and a critical threshold (`WARNING CRITICAL`), or
   * undefined when absent. Ages grow towards critical; `below` thresholds
   * (free space) shrink towards it.
   */
  warningAndCritical(key: string, parse: (value: string) => number, direction: 'above' | 'below' = 'above'): readonly [number, number] | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    const parts = value.split(/\s+/);
    if (parts.length !== 2) {
      const example = direction === 'above' ? '"600 3600"' : '"10 2"';
      this.fail(key, `${key} must be two values, a warning and a critical threshold, such as ${example}; not ${quote(value)}`);
    }
    const [warning, critical] = parts.map(parse) as [number, number];
    if (direction === 'above' ? warning > critical : warning < critical) {
      const order = direction === 'above' ? 'at most' : 'at least';
      this.fail(key, `${key}: the warning threshold (${warning}) must be ${order} the critical one (${critical})`);
    }
    return [warning, critical];
  }

  /** One value of a seconds list (see seconds). */
  secondsIn(key: string, value: string): number {
    if (!/^[0-9]+$/.test(value) || Number(value) < 1) this.fail(key, `${key} must be whole numbers of seconds (1 or more), not ${quote(value)}`);
    return Number(value);
  }

  /** A percentage, 0 to 100. */
  percent(key: string, value: string): number {
    if (!/^[0-9]+(?:\.[0-9]+)?$/.test(value) || Number(value) > 100) this.fail(key, `${key} must be percentages from 0 to 100, not ${quote(value)}`);
    return Number(value);
  }

  /** A size in bytes (`65536`, `64K`, `64M`, `4G`, `1T`; 1024-based), or undefined when absent. */
  bytes(key: string): number | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    const match = /^([0-9]+)([KMGT]?)$/i.exec(value);
    const bytes = match ? Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toUpperCase()] ?? 1) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes < 1) {
      this.fail(key, `${key} must be a size in bytes, optionally followed by K, M, G or T (1024-based), such as 64M; not ${quote(value)}`);
    }
    return bytes;
  }

  /** Throws a FormatError at the key's line. */
  fail(key: string, detail: string): never {
    throw new FormatError('control.bad-field', this.file, detail, this.stanza.lineOf(key) ?? this.firstLine);
  }

  private failAtStart(first: string): never {
    const found = `found "${first}:"`;
    const detail =
      this.kind === 'Farm'
        ? `the first stanza must be the Farm stanza, starting with "Farm:" (${found})`
        : `every stanza after the Farm stanza must start with "Queue:" (${found}` +
          (isStanzaBody(first) ? '; a blank line ends a stanza, even between comments)' : ')');
    throw new FormatError('control.missing-field', this.file, detail, this.firstLine);
  }

  private checkKnown(name: string): void {
    if (isKnown(name, this.keys)) return;
    if (isKnown(name, this.otherKeys)) {
      this.fail(
        name,
        this.kind === 'Farm'
          ? `${name} belongs in a Queue stanza, not in the Farm stanza`
          : `${name} is a farm-wide key: move it to the Farm stanza`,
      );
    }
    const suggestion = closest(name, this.keys);
    this.fail(
      name,
      suggestion === undefined
        ? `unknown key ${quote(name)} (a ${this.kind} stanza takes ${this.keys.join(', ')})`
        : `unknown key ${quote(name)} (did you mean ${quote(suggestion)}?)`,
    );
  }
}

function readFarmName(farm: Fields): string {
  const name = farm.required('Farm', 'the Farm stanza');
  if (!FARM_NAME.test(name)) {
    farm.fail('Farm', `Farm must be one word of letters, digits and "._+-", not ${quote(name)}`);
  }
  return name;
}

function readDistributions(farm: Fields): string[] {
  const value = farm.value('Distributions');
  if (value === undefined) return DEFAULT_DISTRIBUTIONS;
  const distributions = listValue(value);
  for (const [index, distribution] of distributions.entries()) {
    if (!DISTRIBUTION.test(distribution)) {
      farm.fail(
        'Distributions',
        `Distributions: ${quote(distribution)} is not a distribution name ([a-z0-9][a-z0-9.+-]*)`,
      );
    }
    if (distributions.indexOf(distribution) !== index) {
      farm.fail('Distributions', `Distributions lists ${quote(distribution)} twice`);
    }
  }
  return distributions;
}

function readMail(farm: Fields): MailSettings {
  const from = farm.value('Mail-From') ?? DEFAULT_MAIL_FROM;
  if (!isMailbox(from)) farm.fail('Mail-From', `Mail-From must be an address or "Name <address>", not ${quote(from)}`);
  const transport = farm.value('Mail-Transport') ?? 'outbox';
  if (!isOneOf(transport, MAIL_TRANSPORTS)) {
    farm.fail('Mail-Transport', `Mail-Transport must be ${alternatives(MAIL_TRANSPORTS)}, not ${quote(transport)}`);
  }
  const copyTo = farm.value('Mail-Copy-To');
  if (copyTo !== undefined && !isMailbox(copyTo)) {
    farm.fail('Mail-Copy-To', `Mail-Copy-To must be an address or "Name <address>", not ${quote(copyTo)}`);
  }
  // A key of another transport is a sign the operator forgot Mail-Transport: say so rather than ignore it.
  for (const [keys, owner] of [[SMTP_KEYS, 'smtp'], [SENDMAIL_KEYS, 'sendmail']] as const) {
    const stray = keys.find((key) => farm.stanza.has(key));
    if (stray !== undefined && transport !== owner) {
      farm.fail(stray, `${stray} is set but Mail-Transport is ${transport}; set "Mail-Transport: ${owner}" or remove ${stray}`);
    }
  }
  const common = copyTo === undefined ? { from } : { from, copyTo };
  switch (transport) {
    case 'outbox':
      return { ...common, transport };
    case 'smtp':
      return { ...common, transport, smtp: readSmtp(farm) };
    case 'sendmail':
      return { ...common, transport, sendmail: { command: commandWords(farm.value('Mail-Sendmail-Command')) ?? DEFAULT_SENDMAIL } };
  }
}

function readSmtp(farm: Fields): SmtpSettings {
  const host = farm.value('Mail-SMTP-Host');
  if (host === undefined) farm.fail('Mail-Transport', 'Mail-Transport is smtp but Mail-SMTP-Host is missing');
  if (!isHost(host)) farm.fail('Mail-SMTP-Host', `Mail-SMTP-Host must be a host name or an IP address, not ${quote(host)}`);
  const security = farm.value('Mail-SMTP-Security') ?? 'starttls';
  if (!isOneOf(security, SMTP_SECURITIES)) {
    farm.fail('Mail-SMTP-Security', `Mail-SMTP-Security must be ${alternatives(SMTP_SECURITIES)}, not ${quote(security)}`);
  }
  const portValue = farm.value('Mail-SMTP-Port');
  if (portValue !== undefined && !/^[0-9]{1,5}$/.test(portValue)) {
    farm.fail('Mail-SMTP-Port', `Mail-SMTP-Port must be a port number from 1 to 65535, not ${quote(portValue)}`);
  }
  const port = portValue === undefined ? DEFAULT_SMTP_PORTS[security] : Number(portValue);
  if (port < 1 || port > 65535) farm.fail('Mail-SMTP-Port', `Mail-SMTP-Port must be a port number from 1 to 65535, not ${quote(String(portValue))}`);

  const user = farm.value('Mail-SMTP-User');
  if (user !== undefined && !SMTP_USER.test(user)) farm.fail('Mail-SMTP-User', `Mail-SMTP-User must be one word, not ${quote(user)}`);
  const passwordFile = absolutePath(farm, 'Mail-SMTP-Password-File');
  if (user !== undefined && passwordFile === undefined) {
    farm.fail('Mail-SMTP-User', 'Mail-SMTP-User is set but Mail-SMTP-Password-File is missing (the password is read from that file)');
  }
  if (user === undefined && passwordFile !== undefined) {
    farm.fail('Mail-SMTP-Password-File', 'Mail-SMTP-Password-File is set but Mail-SMTP-User is missing');
  }
  if (user !== undefined && security === 'none' && !isLoopback(host)) {
    farm.fail(
      'Mail-SMTP-Security',
      `Mail-SMTP-Security: none would send the password unencrypted to ${quote(host)}; use starttls or tls (none is for a server on this host)`,
    );
  }
  const caFile = absolutePath(farm, 'Mail-SMTP-CA-File');
  if (caFile !== undefined && security === 'none') {
    farm.fail('Mail-SMTP-CA-File', 'Mail-SMTP-CA-File is set but Mail-SMTP-Security is none, which uses no certificates');
  }
  return {
    host,
    port,
    security,
    ...(user !== undefined && passwordFile !== undefined ? { login: { user, passwordFile } } : {}),
    ...(caFile === undefined ? {} : { caFile }),
  };
}

/** A path key's value, which must be absolute: the configuration is read from the root by programs started anywhere. */
function absolutePath(fields: Fields, key: string): string | undefined {
  const value = fields.value(key);
  if (value !== undefined && !isAbsolute(value)) fields.fail(key, `${key} must be an absolute path, not ${quote(value)}`);
  return value;
}

/**
 * The builder of a stanza: its own `Builder`, `Builder-Command` and build
 * settings, each defaulting to the farm's (`inherited`) when given.
 */
function readBuilder(fields: Fields, inherited: BuilderSettings | undefined): BuilderSettings {
  const kind = fields.value('Builder') ?? inherited?.kind ?? 'builtin';
  if (!isOneOf(kind, BUILDERS)) fields.fail('Builder', `Builder must be ${alternatives(BUILDERS)}, not ${quote(kind)}`);
  const settings = readBuildSettings(fields, inherited);
  const commandValue = fields.value('Builder-Command');
  if (kind === 'builtin') {
    if (commandValue !== undefined) {
      fields.fail('Builder-Command', 'Builder-Command is set but Builder is builtin; add "Builder: command" or remove Builder-Command');
    }
    return { kind, ...settings };
  }
  const command = commandWords(commandValue);
  if (command !== undefined) return { kind, command, ...settings };
  if (inherited?.kind === 'command') return { kind, command: inherited.command, ...settings };
  return fields.fail('Builder', 'Builder is command but Builder-Command is missing');
}

/** Build-Timeout, Builder-Sandbox and the size limits of a stanza, each defaulting to the farm's (`inherited`). */
function readBuildSettings(fields: Fields, inherited: BuildSettings | undefined): BuildSettings {
  const sandbox = fields.value('Builder-Sandbox') ?? inherited?.sandbox ?? 'auto';
  if (!isOneOf(sandbox, SANDBOX_MODES)) {
    fields.fail('Builder-Sandbox', `Builder-Sandbox must be ${alternatives(SANDBOX_MODES)}, not ${quote(sandbox)}`);
  }
  return {
    timeoutSeconds: fields.seconds('Build-Timeout') ?? inherited?.timeoutSeconds ?? DEFAULT_BUILD_TIMEOUT,
    sandbox,
    logLimitBytes: fields.bytes('Build-Log-Limit') ?? inherited?.logLimitBytes ?? DEFAULT_LOG_LIMIT,
    outputLimitBytes: fields.bytes('Build-Output-Limit') ?? inherited?.outputLimitBytes ?? DEFAULT_OUTPUT_LIMIT,
  };
}

function readQueue(fields: Fields, farmBuilder: BuilderSettings): QueueConfig {
  const name = fields.required('Queue', 'a Queue stanza');
  if (!QUEUE_NAME.test(name)) fields.fail('Queue', `queue name ${quote(name)} must match [a-z0-9][a-z0-9.+-]*`);
  const architectures = listValue(fields.required('Architectures', `the stanza of queue ${quote(name)}`));
  for (const [index, architecture] of architectures.entries()) {
    const problem = servedArchitectureProblem(architecture);
    if (problem !== undefined) fields.fail('Architectures', `Architectures: ${problem}`);
    if (architectures.indexOf(architecture) !== index) {
      fields.fail('Architectures', `Architectures lists ${quote(architecture)} twice`);
    }
  }
  const platforms = listValue(fields.value('Platforms'));
  for (const [index, platform] of platforms.entries()) {
    const problem = servedPlatformProblem(platform);
    if (problem !== undefined) fields.fail('Platforms', `Platforms: ${problem}`);
    if (platforms.indexOf(platform) !== index) fields.fail('Platforms', `Platforms lists ${quote(platform)} twice`);
  }
  return { name, architectures, platforms, builder: readBuilder(fields, farmBuilder) };
}

/** Why a build queue cannot serve an architecture: it must be `all` or a real name. */
function servedArchitectureProblem(name: string): string | undefined {
  if (name === ANY || isWildcard(name)) {
    return `${quote(name)} is a pattern; a build queue serves concrete architectures (all or <cpu>-<kernel>-<libc>)`;
  }
  if (name === SRC) return `${quote(name)} needs no build; a build queue serves all or <cpu>-<kernel>-<libc> architectures`;
  if (isConcreteArchitecture(name)) return undefined;
  // The library's message names the bad component of a three-part name; otherwise say what is allowed here.
  return name.split('-').length === 3
    ? architectureProblem(name)
    : `architecture ${quote(name)} must be all or <cpu>-<kernel>-<libc>`;
}

/** Why a build queue cannot build a platform: it must be a platform name other than `all` and `any`. */
function servedPlatformProblem(name: string): string | undefined {
  if (name === ALL) return `${quote(name)} is always built; list only the other platform names`;
  if (name === ANY) return `${quote(name)} is a pattern; list the platform names this queue builds`;
  return platformProblem(name);
}

/** A command value split on whitespace (it runs without a shell), or undefined when it has no word. */
function commandWords(value: string | undefined): [string, ...string[]] | undefined {
  const [program, ...args] = value === undefined ? [] : value.split(/\s+/).filter((word) => word !== '');
  return program === undefined ? undefined : [program, ...args];
}

function isHost(value: string): boolean {
  return isIP(value) !== 0 || (value.length <= 253 && HOST_NAME.test(value));
}

/** Whether a host is this machine: only there may the SMTP password travel without TLS. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isMailbox(value: string): boolean {
  if (ADDRESS.test(value)) return true;
  const address = NAMED_ADDRESS.exec(value)?.[1];
  return address !== undefined && ADDRESS.test(address);
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

/** Whether a key belongs inside a stanza rather than opening one: a sign of a stray blank line. */
function isStanzaBody(name: string): boolean {
  return !isKnown(name, ['Farm', 'Queue']) && isKnown(name, [...FARM_KEYS, ...QUEUE_KEYS]);
}

function isKnown(name: string, keys: readonly string[]): boolean {
  return keys.some((key) => key.toLowerCase() === name.toLowerCase());
}

/** The known key a misspelt one most likely meant, if any is close enough. */
function closest(name: string, keys: readonly string[]): string | undefined {
  const wanted = name.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const key of keys) {
    const candidate = key.toLowerCase();
    // A key written in part ("Timeout", "Architecture") is as good a hint as a typo.
    const partial = wanted.length >= 4 && (candidate.includes(wanted) || wanted.includes(candidate));
    const distance = partial ? 0 : editDistance(wanted, candidate);
    if (distance <= Math.max(2, Math.floor(wanted.length / 3)) && (best === undefined || distance < best.distance)) {
      best = { key, distance };
    }
  }
  return best?.key;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}

/** `a, b or c`. */
function alternatives(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1) ?? ''}`;
}

function quote(text: string): string {
  return JSON.stringify(text);
}
