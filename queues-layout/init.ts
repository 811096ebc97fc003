/**
 * NAME
 *   init - create or update a queue root from the farm configuration
 *
 * DESCRIPTION
 *   Reads and validates the configuration first, so a bad one creates nothing.
 *   Then it makes every directory of the queue root (README.md beside this
 *   file), one directory with a `claims/` subdirectory per build queue, and one
 *   `queues/arch/<arch> -> ../buildd/<queue>` link per served architecture, and
 *   copies the configuration to `<root>/opkfarm.conf`.
 *
 *   It refuses a root where link(2) fails or link counts are not reported, and
 *   one whose directories are on more than one filesystem: the queue protocol
 *   (PIPELINE.md) counts builds by link counts and moves files by rename.
 *
 *   Running it again is how a configuration change is applied: it creates what
 *   is missing, points the arch links at the configured queues and removes the
 *   links of architectures no longer served. It never deletes a queue that
 *   still holds entries; an empty queue dropped from the configuration goes.
 *   Directories it creates get mode 0755; existing ones keep their modes and
 *   owners, which the operator may have set (uploads/ and uploads/incoming/ for
 *   SFTP uploads: queues-layout/README.md).
 *
 * IF KILLED
 *   Each step is idempotent and leaves a usable tree: arch links are replaced by
 *   rename, so a link is never missing; the configuration is written last and
 *   atomically, so it never names a queue whose directory does not exist yet.
 *   Running init again finishes the job.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, readFile, readdir, readlink, rename, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseConfig, type FarmConfig } from '../lib/config.js';
import { EnvironmentError } from '../lib/errors.js';
import { TEMP_PREFIX, syncDirectory, tempPathFor, writeContentAtomic } from '../lib/fs/atomic.js';
import { QueueLayout } from '../lib/layout.js';

const DIRECTORY_MODE = 0o755;
const CONFIG_MODE = 0o644;

/** The file system calls the root checks make; tests replace them to play a file system without hard links. */
export interface FsProbe {
  link(existingPath: string, newPath: string): Promise<void>;
  stat(path: string): Promise<{ readonly dev: number; readonly ino: number; readonly nlink: number }>;
}

export interface InitOptions {
  /** The queue root; created (with its parents) when missing. */
  readonly root: string;
  /** The configuration to validate and install as `<root>/opkfarm.conf`. */
  readonly configFile: string;
  readonly probe?: FsProbe;
}

/** One thing init did, or found and left alone. */
export type InitChange =
  | { readonly kind: 'directory-created'; readonly path: string }
  | { readonly kind: 'link-created'; readonly path: string; readonly target: string }
  | { readonly kind: 'link-changed'; readonly path: string; readonly target: string; readonly previous: string }
  | { readonly kind: 'link-removed'; readonly path: string; readonly previous: string }
  | { readonly kind: 'queue-removed'; readonly path: string }
  /** A queue no longer configured, without entries but holding other files, which init does not delete. */
  | { readonly kind: 'queue-kept'; readonly path: string; readonly files: readonly string[] }
  | { readonly kind: 'config-created'; readonly path: string }
  | { readonly kind: 'config-updated'; readonly path: string };

export interface InitReport {
  readonly root: string;
  readonly config: FarmConfig;
  /** In the order they were made; empty when the root already matched the configuration. */
  readonly changes: readonly InitChange[];
}

/** A configuration change init refuses to apply to the queue root as it is. */
export class InitConflictError extends Error {
  override readonly name = 'InitConflictError';
}

const realProbe: FsProbe = { link, stat };

/** Creates or updates the queue root `root` to match the configuration `configFile`. */
export async function initQueueRoot(options: InitOptions): Promise<InitReport> {
  const { root, configFile } = options;
  const probe = options.probe ?? realProbe;
  const content = await readConfigFile(configFile);
  const config = parseConfig(content.toString('utf8'), configFile);
  const layout = new QueueLayout(root);
  const dropped = await droppedQueues(layout, config);
  const changes: InitChange[] = [];

  const createdRoot = await ensureRoot(root, changes);
  const createdTmp = await ensureDirectory(layout.tmp, changes);
  try {
    await checkHardLinks(root, probe);
  } catch (error) {
    // Leave no trace of a root that cannot be one.
    if (createdTmp) await rmdir(layout.tmp);
    for (const directory of createdRoot) await rmdir(directory);
    throw error;
  }

  const directories = [...layout.directories()];
  for (const queue of config.queues) directories.push(layout.buildQueue(queue.name), layout.claims(queue.name));
  for (const directory of directories) await ensureDirectory(directory, changes);
  await checkOneFilesystem(root, directories, probe);

  await updateArchLinks(layout, config, changes);
  for (const queue of dropped) await removeDroppedQueue(layout, queue, changes);
  await installConfig(layout, configFile, content, changes);
  return { root, config, changes };
}

/**
 * Refuses a root where hard links or link counts do not work: links a fresh
 * file in `<root>/tmp/` to a second name and requires both names to report
 * the same inode with a link count of 2. Throws an EnvironmentError naming the
 * root and what failed.
 */
export async function checkHardLinks(root: string, probe: FsProbe = realProbe): Promise<void> {
  const tmp = new QueueLayout(root).tmp;
  const first = join(tmp, `${TEMP_PREFIX}link-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  const second = `${first}-2`;
  const refuse = (what: string, cause?: unknown): EnvironmentError =>
    new EnvironmentError(
      `cannot use ${root} as a queue root: ${what} (tested in ${tmp}); the queue protocol needs hard links and link counts, as on ext4, xfs, btrfs or NFS`,
      { cause },
    );
  try {
    try {
      await writeFile(first, '', { flag: 'wx', mode: 0o600 });
    } catch (error) {
      throw refuse(`cannot create a file: ${errorCode(error)}`, error);
    }
    try {
      await probe.link(first, second);
    } catch (error) {
      throw refuse(`link(2) failed: ${errorCode(error)}`, error);
    }
    const [a, b] = await Promise.all([probe.stat(first), probe.stat(second)]);
    if (a.nlink !== 2 || b.nlink !== 2) {
      throw refuse(`link counts are not reported (nlink ${a.nlink === 2 ? b.nlink : a.nlink} after link)`);
    }
    if (a.ino !== b.ino || a.dev !== b.dev) {
      throw refuse(`link(2) made a second file, not a second name (inodes ${a.ino} and ${b.ino})`);
    }
  } finally {
    await unlink(second).catch(() => undefined);
    await unlink(first).catch(() => undefined);
  }
}

/** Refuses a root whose directories are not all on the filesystem of its `tmp/`. */
export async function checkOneFilesystem(root: string, directories: readonly string[], probe: FsProbe = realProbe): Promise<void> {
  const tmp = new QueueLayout(root).tmp;
  const device = (await probe.stat(tmp)).dev;
  for (const directory of directories) {
    const other = (await probe.stat(directory)).dev;
    if (other !== device) {
      throw new EnvironmentError(
        `cannot use ${root} as a queue root: ${directory} is on another filesystem than ${tmp} (device ${other}, not ${device}); hard links and renames do not cross filesystems, so the whole root must be one`,
      );
    }
  }
}

async function readConfigFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new EnvironmentError(`cannot read the configuration ${path}: ${errorCode(error)}`, { cause: error });
  }
}

/**
 * The queue directories the configuration no longer names. Throws before
 * anything is changed when one of them still holds entries, which would be
 * lost: their master entries would wait for these builds forever (I2).
 */
async function droppedQueues(layout: QueueLayout, config: FarmConfig): Promise<string[]> {
  const configured = new Set(config.queues.map((queue) => queue.name));
  const dropped: string[] = [];
  for (const name of (await listDirectory(layout.buildQueues)).sort()) {
    if (configured.has(name) || name.startsWith('.')) continue;
    if ((await lstat(layout.buildQueue(name))).isDirectory()) dropped.push(name);
  }
  const busy: string[] = [];
  for (const name of dropped) {
    const queued = (await listDirectory(layout.buildQueue(name))).filter((file) => isEntry(file) && file.endsWith('.opk'));
    const claimed = (await listDirectory(layout.claims(name))).filter(isEntry);
    const count = queued.length + claimed.length;
    if (count > 0) {
      busy.push(`queue "${name}" is not in the configuration any more but ${layout.buildQueue(name)} still holds ${count} ${count === 1 ? 'entry' : 'entries'}`);
    }
  }
  if (busy.length > 0) {
    throw new InitConflictError(
      `${busy.join('; ')}: keep the queue in the configuration until its entries are built`,
    );
  }
  return dropped;
}

/** Creates the root and its missing parents; returns the directories created, deepest first. */
async function ensureRoot(root: string, changes: InitChange[]): Promise<string[]> {
  let first: string | undefined;
  try {
    first = await mkdir(root, { recursive: true, mode: DIRECTORY_MODE });
  } catch (error) {
    throw new EnvironmentError(`cannot create the queue root ${root}: ${errorCode(error)}`, { cause: error });
  }
  if (first === undefined) {
    if (!(await stat(root)).isDirectory()) throw new EnvironmentError(`${root} exists and is not a directory`);
    return [];
  }
  const created = [root];
  for (let directory = root; directory !== first && dirname(directory) !== directory; ) {
    directory = dirname(directory);
    created.push(directory);
  }
  for (const directory of [...created].reverse()) await chmod(directory, DIRECTORY_MODE);
  changes.push({ kind: 'directory-created', path: root });
  return created;
}

/** Creates a directory with mode 0755 unless it exists; returns whether it was created. */
async function ensureDirectory(path: string, changes: InitChange[]): Promise<boolean> {
  try {
    await mkdir(path, { mode: DIRECTORY_MODE });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') {
      throw new EnvironmentError(`cannot create ${path}: ${errorCode(error)}`, { cause: error });
    }
    const existing = await stat(path).catch(() => undefined);
    if (!existing?.isDirectory()) throw new EnvironmentError(`${path} exists and is not a directory: move it away`);
    return false;
  }
  // mkdir's mode passes through the umask.
  await chmod(path, DIRECTORY_MODE);
  changes.push({ kind: 'directory-created', path });
  return true;
}

/** Makes `queues/arch/` hold exactly one link per served architecture, to its queue's directory. */
async function updateArchLinks(layout: QueueLayout, config: FarmConfig, changes: InitChange[]): Promise<void> {
  const before = changes.length;
  for (const [architecture, queue] of config.servedArchitectures) {
    const path = layout.archLink(architecture);
    const target = `../buildd/${queue}`;
    const previous = await linkTarget(path);
    if (previous === target) continue;
    // A link replaced by rename is never missing, so routing never finds an architecture unserved.
    const temp = tempPathFor(path);
    await symlink(target, temp);
    await rename(temp, path);
    changes.push(
      previous === undefined ? { kind: 'link-created', path, target } : { kind: 'link-changed', path, target, previous },
    );
  }
  for (const name of (await listDirectory(layout.archByName)).sort()) {
    const path = layout.archLink(name);
    if (name.startsWith(TEMP_PREFIX)) {
      // Left by an init killed between symlink and rename.
      await unlink(path);
      continue;
    }
    if (config.servedArchitectures.has(name)) continue;
    const previous = await linkTarget(path);
    if (previous === undefined) continue;
    await unlink(path);
    changes.push({ kind: 'link-removed', path, previous });
  }
  if (changes.length > before) await syncDirectory(layout.archByName);
}

/** Removes a dropped build queue that holds nothing; one holding other files is kept and reported. */
async function removeDroppedQueue(layout: QueueLayout, queue: string, changes: InitChange[]): Promise<void> {
  const path = layout.buildQueue(queue);
  const claims = layout.claims(queue);
  const files = (await listDirectory(path)).filter((file) => file !== 'claims');
  const claimFiles = await listDirectory(claims);
  if (files.length > 0 || claimFiles.length > 0) {
    changes.push({ kind: 'queue-kept', path, files: [...files, ...claimFiles.map((file) => `claims/${file}`)].sort() });
    return;
  }
  await rmdir(claims).catch((error: unknown) => {
    if (errorCode(error) !== 'ENOENT') throw error;
  });
  await rmdir(path);
  changes.push({ kind: 'queue-removed', path });
}

/** Copies the configuration to `<root>/opkfarm.conf` unless it holds the same bytes already. */
async function installConfig(layout: QueueLayout, configFile: string, content: Buffer, changes: InitChange[]): Promise<void> {
  const path = layout.configFile;
  const existing = await readFile(path).catch((error: unknown) => {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (existing?.equals(content)) return;
  await writeContentAtomic(path, content, { mode: CONFIG_MODE });
  changes.push({ kind: existing === undefined ? 'config-created' : 'config-updated', path });
}

/** The target of a symbolic link, or undefined when nothing is there; anything else is an error. */
async function linkTarget(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    if (errorCode(error) === 'EINVAL') {
      throw new EnvironmentError(`${path} is not a symbolic link; queues/arch/ holds only links to build queues: move it away`);
    }
    throw error;
  }
}

/** The names in a directory, or none when it does not exist. */
async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
}

/** Whether a name in a build queue or claim area is an entry rather than a temporary file. */
function isEntry(name: string): boolean {
  return !name.startsWith('.');
}

function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
