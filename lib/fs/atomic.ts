/**
 * Crash-safe file creation (invariant I1): content is written under a
 * temporary name in the same directory as the destination (so the same
 * filesystem), fsynced, then renamed. A reader sees either no file or the
 * complete one; a crash leaves only a `.tmp-` file that start-up clean-up removes.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { faultPoint } from '../fault.js';

/** Prefix of every temporary name opkfarm creates; clean-up and health checks look for it. */
export const TEMP_PREFIX = '.tmp-';

/** A fresh temporary path beside `destination`. */
export function tempPathFor(destination: string): string {
  return join(dirname(destination), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${basename(destination)}`);
}

/**
 * Runs `write` against a temporary file beside `destination`, fsyncs it and
 * renames it into place. The temporary file is removed if `write` fails.
 */
export async function writeFileAtomic(
  destination: string,
  write: (tempPath: string) => Promise<void>,
  options: { mode?: number } = {},
): Promise<void> {
  await replaceAtomically(destination, async (temp) => {
    await write(temp);
    const handle = await open(temp, 'r+');
    try {
      if (options.mode !== undefined) await handle.chmod(options.mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** Writes a whole buffer or string atomically (one open: written, fsynced and closed through one handle). */
export async function writeContentAtomic(
  destination: string,
  content: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  await replaceAtomically(destination, async (temp) => {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(content);
      // The mode given to open is masked by the umask; chmod is not.
      if (options.mode !== undefined) await handle.chmod(options.mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** `fill` writes and fsyncs a temporary file; it is renamed to `destination` (removed on failure) and the directory fsynced. */
async function replaceAtomically(destination: string, fill: (temp: string) => Promise<void>): Promise<void> {
  const temp = tempPathFor(destination);
  try {
    await fill(temp);
    faultPoint('write.temp-filled');
    await rename(temp, destination);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw cannotWrite(destination, error);
  }
  await syncDirectory(dirname(destination));
}

/**
 * A filesystem error met while writing `path`, as an EnvironmentError that
 * names it (Node's write and fsync errors name no file: "ENOSPC: no space
 * left on device, write"); the errno code stays on it. Other errors as they are.
 */
export function cannotWrite(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!(error instanceof Error) || error instanceof EnvironmentError || typeof code !== 'string') return error;
  return Object.assign(new EnvironmentError(`${path}: cannot write: ${error.message}`, { cause: error }), { code });
}

/** Makes the renames and links in directories that need no order among themselves durable, at once. */
export async function syncDirectories(directories: readonly string[]): Promise<void> {
  await Promise.all(directories.map((directory) => syncDirectory(directory)));
}

/** Makes a rename or link in `directory` durable. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Directories to fsync once each, after a batch of links, renames or mkdirs
 * in them: durability of the whole batch for one fsync per directory instead
 * of one per file. `flush` before anything that must not become visible
 * first (an index naming pool files, a queue entry's removal).
 */
export class DirectorySyncs {
  readonly #pending = new Set<string>();

  add(directory: string): void {
    this.#pending.add(directory);
  }

  /** Syncs every pending directory at once: they need no order among themselves, and their fsyncs overlap. */
  async flush(): Promise<void> {
    const directories = [...this.#pending].sort();
    await syncDirectories(directories);
    for (const directory of directories) this.#pending.delete(directory);
  }
}
