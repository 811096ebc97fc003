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
import { EnvironmentError, FormatError } from './errors.js';
import { architectureProblem, isConcreteArchitecture, isWildcard, platformProblem, ALL, ANY, SRC } from './formats/architecture.js';
import { listValue, parseControl, type Stanza } from './formats/control.js';

/** How mail leaves the farm. Only `outbox` is delivered so far; the others are accepted for later. */
export type MailTransport = 'outbox' | 'smtp' | 'sendmail';

export interface MailSettings {
  /** The sender of every mail: an address or `Name <address>`. */
  readonly from: string;
  readonly transport: MailTransport;
  /** An address that receives a copy of every mail, when set. */
  readonly copyTo?: string;
}

/** How a build queue builds: opkfarm's own builder, or an external command. */
export type BuilderSettings = BuiltinBuilder | CommandBuilder;

export interface BuiltinBuilder {
  readonly kind: 'builtin';
  /** A build running longer is killed and recorded as failed. */
  readonly timeoutSeconds: number;
}

export interface CommandBuilder {
  readonly kind: 'command';
  /** Program and arguments, split on whitespace; run without a shell. */
  readonly command: readonly [string, ...string[]];
  readonly timeoutSeconds: number;
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
  /**
   * How long an upload may wait in incoming/ for its files, and a file no
   * .changes lists may sit there, before they are reported as problems (I9).
   */
  readonly uploadWaitSeconds: number;
  /** The build queues, in the file's order. */
  readonly queues: readonly QueueConfig[];
  /** Each served architecture and the queue serving it: what routing and `queues/arch/` follow. */
  readonly servedArchitectures: ReadonlyMap<string, string>;
}

const FARM_KEYS = [
  'Farm',
  'Distributions',
  'Mail-From',
  'Mail-Transport',
  'Mail-Copy-To',
  'Builder',
  'Builder-Command',
  'Build-Timeout',
  'Lease-Seconds',
  'Rescan-Seconds',
  'Upload-Wait-Seconds',
] as const;
const QUEUE_KEYS = ['Queue', 'Architectures', 'Platforms', 'Builder', 'Builder-Command', 'Build-Timeout'] as const;

const DEFAULT_DISTRIBUTIONS = ['trunk'];
const DEFAULT_MAIL_FROM = 'opkfarm <opkfarm@localhost>';
const DEFAULT_BUILD_TIMEOUT = 3600;
const DEFAULT_LEASE_SECONDS = 600;
const DEFAULT_RESCAN_SECONDS = 30;
/** A day: an upload over a slow line finishes well within it, and a forgotten one is noticed the next day. */
const DEFAULT_UPLOAD_WAIT_SECONDS = 86_400;
const MAIL_TRANSPORTS: readonly MailTransport[] = ['outbox', 'smtp', 'sendmail'];
const BUILDERS = ['builtin', 'command'] as const;
/** Node's timers hold at most 2^31-1 ms and fire at once beyond it, so no period may be longer. */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

const FARM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const QUEUE_NAME = /^[a-z0-9][a-z0-9.+-]*$/;
const DISTRIBUTION = /^[a-z0-9][a-z0-9.+-]*$/;
const ADDRESS = /^[^<>\s@]+@[^<>\s@]+$/;
const NAMED_ADDRESS = /^[^<>\s][^<>\n]* <([^<>\s]+)>$/;

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
  const uploadWaitSeconds = farm.seconds('Upload-Wait-Seconds') ?? DEFAULT_UPLOAD_WAIT_SECONDS;

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
  return { name, distributions, mail, builder, leaseSeconds, rescanSeconds, uploadWaitSeconds, queues, servedArchitectures };
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
  return copyTo === undefined ? { from, transport } : { from, transport, copyTo };
}

/**
 * The builder of a stanza: its own `Builder`, `Builder-Command` and
 * `Build-Timeout`, each defaulting to the farm's (`inherited`) when given.
 */
function readBuilder(fields: Fields, inherited: BuilderSettings | undefined): BuilderSettings {
  const kind = fields.value('Builder') ?? inherited?.kind ?? 'builtin';
  if (!isOneOf(kind, BUILDERS)) fields.fail('Builder', `Builder must be ${alternatives(BUILDERS)}, not ${quote(kind)}`);
  const timeoutSeconds = fields.seconds('Build-Timeout') ?? inherited?.timeoutSeconds ?? DEFAULT_BUILD_TIMEOUT;
  const commandValue = fields.value('Builder-Command');
  if (kind === 'builtin') {
    if (commandValue !== undefined) {
      fields.fail('Builder-Command', 'Builder-Command is set but Builder is builtin; add "Builder: command" or remove Builder-Command');
    }
    return { kind, timeoutSeconds };
  }
  const [program, ...args] = commandValue === undefined ? [] : commandValue.split(/\s+/).filter((word) => word !== '');
  if (program !== undefined) return { kind, command: [program, ...args], timeoutSeconds };
  if (inherited?.kind === 'command') return { kind, command: inherited.command, timeoutSeconds };
  return fields.fail('Builder', 'Builder is command but Builder-Command is missing');
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
