/**
 * Queue roots for pipeline tests, made and inspected the way a farm operator
 * would: the configuration file, `opkfarm init`, `opkfarm source build`,
 * `buildq`, and plain reads of the tree (queues-layout/README.md).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FarmConfig } from '../../lib/config.js';
import { parseControl, type Stanza } from '../../lib/formats/control.js';
import { QueueLayout } from '../../lib/layout.js';
import { initQueueRoot } from '../../queues-layout/init.js';
import { header, parseEml } from '../mail/eml.js';
import { runProgram } from './programs.js';

/** The architecture name of this machine, as scripts/demo.sh computes it; the built-in builder compiles natively. */
export function nativeArchitecture(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64-linux-glibc';
    case 'arm64':
      return 'arm64-linux-glibc';
    case 'arm':
      return 'armhf-linux-gnueabihf';
    case 'ia32':
      return 'i386-linux-glibc';
    default:
      return `${process.arch.replace(/[^a-z0-9]/g, '')}-linux-glibc`;
  }
}

/** A fresh scratch directory under the system temporary directory. */
export function scratchDirectory(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `opkfarm-${prefix}-`));
}

export async function removeScratch(directory: string | undefined): Promise<void> {
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
}

export interface QueueSpec {
  readonly name: string;
  readonly architectures: readonly string[];
}

export interface FarmSpec {
  readonly name?: string;
  readonly queues: readonly QueueSpec[];
  readonly rescanSeconds?: number;
  readonly buildTimeoutSeconds?: number;
  /** An external builder (Builder: command); the built-in one otherwise. */
  readonly builderCommand?: string;
  /** Builder-Sandbox; left out (auto) when undefined. */
  readonly sandbox?: 'auto' | 'bwrap' | 'none';
  /** Build-Log-Limit and Build-Output-Limit, as written in the file (`64K`). */
  readonly logLimit?: string;
  readonly outputLimit?: string;
  /** More lines of the Farm stanza: a mail transport and its keys (outbox otherwise). */
  readonly mailFields?: readonly string[];
  /** Archive-Batch-Wait-Milliseconds; the default (200) when undefined. */
  readonly archiveBatchWaitMilliseconds?: number;
}

/** The text of an opkfarm.conf for `spec`. */
export function farmConfig(spec: FarmSpec): string {
  const farm = [
    `Farm: ${spec.name ?? 'test'}`,
    'Distributions: trunk',
    'Mail-From: opkfarm test <opkfarm@localhost>',
    `Build-Timeout: ${spec.buildTimeoutSeconds ?? 120}`,
    `Rescan-Seconds: ${spec.rescanSeconds ?? 1}`,
    ...(spec.builderCommand === undefined ? [] : ['Builder: command', `Builder-Command: ${spec.builderCommand}`]),
    ...(spec.sandbox === undefined ? [] : [`Builder-Sandbox: ${spec.sandbox}`]),
    ...(spec.logLimit === undefined ? [] : [`Build-Log-Limit: ${spec.logLimit}`]),
    ...(spec.outputLimit === undefined ? [] : [`Build-Output-Limit: ${spec.outputLimit}`]),
    ...(spec.mailFields ?? []),
    ...(spec.archiveBatchWaitMilliseconds === undefined ? [] : [`Archive-Batch-Wait-Milliseconds: ${spec.archiveBatchWaitMilliseconds}`]),
  ];
  const queues = spec.queues.map((queue) => [`Queue: ${queue.name}`, `Architectures: ${queue.architectures.join(' ')}`].join('\n'));
  return `${[farm.join('\n'), ...queues].join('\n\n')}\n`;
}

/** Writes the configuration beside `root` and runs `opkfarm init --root root --config file`. */
export async function initFarm(root: string, spec: FarmSpec): Promise<void> {
  const config = `${root}.conf`;
  await writeFile(config, farmConfig(spec));
  await run('opkfarm', ['init', '--root', root, '--config', config]);
}

/** `opkfarm source build DIR --output OUTPUT`. */
export async function buildUpload(directory: string, output: string): Promise<void> {
  await run('opkfarm', ['source', 'build', directory, '--output', output]);
}

/** `buildq --root ROOT args…`; returns its stdout. */
export async function buildq(root: string, args: readonly string[]): Promise<string> {
  return run('buildq', ['--root', root, ...args]);
}

async function run(program: 'opkfarm' | 'buildq', args: readonly string[]): Promise<string> {
  const result = await runProgram(program, args);
  if (result.exitCode !== 0) {
    throw new Error(`${program} ${args.join(' ')} exited ${String(result.exitCode)}:\n${String(result.stderr)}`);
  }
  return String(result.stdout);
}

/** Runs `task` over `items`, at most `limit` at a time (two cores: a few processes at once). */
export async function inBatches<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  });
  await Promise.all(workers);
}

/** Every name in a directory, dot names included, sorted; [] for a missing directory. */
export async function namesIn(directory: string): Promise<string[]> {
  return (await readdir(directory).catch(() => [] as string[])).sort();
}

/**
 * What is left in the queue directories that must be empty once the pipeline
 * is idle: master/, each build queue (but for its claims/ directory) and its
 * claims/, archive-queue/, tmp/ and incoming/. Paths relative to the root.
 */
export async function queueLeftovers(root: string, queues: readonly string[]): Promise<string[]> {
  const leftovers: string[] = [];
  const check = async (relative: string, allowed: readonly string[] = []) => {
    for (const name of await namesIn(join(root, relative))) if (!allowed.includes(name)) leftovers.push(`${relative}/${name}`);
  };
  await check('queues/master');
  for (const queue of queues) {
    await check(`queues/buildd/${queue}`, ['claims']);
    await check(`queues/buildd/${queue}/claims`);
  }
  await check('archive-queue');
  await check('tmp');
  await check('uploads/incoming');
  return leftovers;
}

/** One stanza of a feed index with where it was found. */
export interface IndexedPackage {
  /** Absolute feed directory (holding Packages and Packages.gz). */
  readonly feed: string;
  readonly stanza: Stanza;
  /** The pool file its Filename resolves to. */
  readonly file: string;
}

/** Every Packages file under archive/feeds/ (absolute paths, sorted). */
export async function packagesFiles(root: string): Promise<string[]> {
  const feeds = join(root, 'archive', 'feeds');
  const entries = await readdir(feeds, { recursive: true }).catch(() => [] as string[]);
  return entries
    .filter((path) => path === 'Packages' || path.endsWith('/Packages'))
    .map((path) => join(feeds, path))
    .sort();
}

/** Every stanza of every feed index. */
export async function indexedPackages(root: string): Promise<IndexedPackage[]> {
  const packages: IndexedPackage[] = [];
  for (const file of await packagesFiles(root)) {
    const feed = resolve(file, '..');
    for (const stanza of parseControl(await readFile(file, 'utf8'), { file })) {
      packages.push({ feed, stanza, file: resolve(feed, stanza.get('Filename') ?? '') });
    }
  }
  return packages;
}

/** Package names over every feed, sorted (a name indexed twice appears twice). */
export async function indexedNames(root: string): Promise<string[]> {
  return (await indexedPackages(root)).map((indexed) => indexed.stanza.get('Package') ?? '?').sort();
}

/**
 * Problems of the feed indexes: a Filename that does not resolve to a pool
 * file, a Size/MD5Sum/SHA256sum that is not the pool file's, a Packages.gz
 * that is not Packages compressed. Empty when every index is right.
 */
export async function feedProblems(root: string): Promise<string[]> {
  const problems: string[] = [];
  const pool = join(root, 'archive', 'pool');
  for (const file of await packagesFiles(root)) {
    const plain = await readFile(file);
    const compressed = await readFile(`${file}.gz`).catch(() => undefined);
    if (compressed === undefined) problems.push(`${file}.gz is missing`);
    else if (!gunzipSync(compressed).equals(plain)) problems.push(`${file}.gz does not gunzip to ${file}`);
  }
  for (const { feed, stanza, file } of await indexedPackages(root)) {
    const name = `${feed} ${stanza.get('Package') ?? '?'}`;
    if (!file.startsWith(`${pool}/`)) {
      problems.push(`${name}: Filename ${stanza.get('Filename') ?? '(none)'} is not in the pool`);
      continue;
    }
    const content = await readFile(file).catch(() => undefined);
    if (content === undefined) {
      problems.push(`${name}: Filename ${stanza.get('Filename') ?? ''} resolves to ${file}, which does not exist`);
      continue;
    }
    const expected: Record<string, string> = {
      Size: String(content.length),
      MD5Sum: createHash('md5').update(content).digest('hex'),
      SHA256sum: createHash('sha256').update(content).digest('hex'),
    };
    for (const [field, value] of Object.entries(expected)) {
      if (stanza.get(field) !== value) problems.push(`${name}: ${field} is ${stanza.get(field) ?? '(none)'}, the pool file's is ${value}`);
    }
  }
  return problems;
}

/** Every file under archive/pool/, relative to the pool, sorted. */
export async function poolFiles(root: string): Promise<string[]> {
  const pool = join(root, 'archive', 'pool');
  const entries = await readdir(pool, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(pool.length + 1))
    .sort();
}

/** The Subject of every message in the outbox, sorted; throws on a name that is not a finished message. */
export async function outboxSubjects(root: string): Promise<string[]> {
  const outbox = join(root, 'outbox');
  const subjects: string[] = [];
  for (const name of await namesIn(outbox)) {
    if (!name.endsWith('.eml') || name.startsWith('.')) throw new Error(`outbox holds ${name}, which is not a finished message`);
    subjects.push(header(parseEml(await readFile(join(outbox, name), 'utf8')), 'subject') ?? '(no subject)');
  }
  return subjects.sort();
}

/** Diagnostics for a failed wait: the tree's queue directories and the feeds. */
export async function describeRoot(root: string, queues: readonly string[]): Promise<string> {
  const lines = [`queue root ${root}:`];
  for (const relative of ['uploads/incoming', 'queues/master', 'archive-queue', 'tmp', ...queues.flatMap((q) => [`queues/buildd/${q}`, `queues/buildd/${q}/claims`])]) {
    lines.push(`  ${relative}: ${(await namesIn(join(root, relative))).join(' ')}`);
  }
  for (const key of await namesIn(join(root, 'archive-queue'))) {
    lines.push(`  archive-queue/${key}: ${(await namesIn(join(root, 'archive-queue', key))).join(' ')}`);
  }
  lines.push(`  indexed: ${(await indexedNames(root).catch((error: unknown) => [String(error)])).join(' ')}`);
  return lines.join('\n');
}

/** Makes a queue root in this process (library tests): the configuration, `initQueueRoot`, the parsed config. */
export async function initFarmInProcess(root: string, spec: FarmSpec): Promise<{ layout: QueueLayout; config: FarmConfig }> {
  const configFile = `${root}.conf`;
  await writeFile(configFile, farmConfig(spec));
  const report = await initQueueRoot({ root, configFile });
  return { layout: new QueueLayout(root), config: report.config };
}

/**
 * Whether the pipeline is done with what a test gave it: the feeds index
 * exactly `expected` (package names, sorted) and every queue directory
 * (queueLeftovers) is empty. archived removes an archive-queue entry last,
 * and its tmp/ copy after that, so once this holds nothing is in flight.
 */
export async function pipelineSettled(root: string, queues: readonly string[], expected: readonly string[]): Promise<boolean> {
  return (
    JSON.stringify(await indexedNames(root)) === JSON.stringify(expected) && (await queueLeftovers(root, queues)).length === 0
  );
}
