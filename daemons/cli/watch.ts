/**
 * Wake-up hints for a daemon: inotify watches through fs.watch, one per
 * directory, that call `onChange` with the directory and the name that
 * changed (when the kernel says) and read nothing (I7: events are hints,
 * the rescan guarantees progress). A directory may also be watched one level
 * down, for queues whose entries are directories (archive-queue/<key>/):
 * each subdirectory gets a watch of its own while it exists.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../../lib/errors.js';
import { TEMP_PREFIX } from '../../lib/fs/atomic.js';

export class DirectoryWatch {
  readonly #watchers = new Map<string, FSWatcher>();

  constructor(
    private readonly onChange: (directory: string, name: string | undefined) => void,
    private readonly onError: (directory: string, error: string) => void,
  ) {}

  /** Watches `directory`, and each of its subdirectories when `subdirectories` is set. */
  async add(directory: string, subdirectories = false): Promise<void> {
    this.#watch(directory, (name) => {
      if (subdirectories) void this.#follow(join(directory, name));
    });
    if (subdirectories) {
      for (const name of await readdir(directory)) await this.#follow(join(directory, name));
    }
  }

  close(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /** Starts or stops watching a subdirectory as it appears or goes. */
  async #follow(path: string): Promise<void> {
    const isDirectory = await stat(path).then((stats) => stats.isDirectory(), () => false);
    if (isDirectory) this.#watch(path, () => undefined);
    else {
      this.#watchers.get(path)?.close();
      this.#watchers.delete(path);
    }
  }

  #watch(directory: string, onName: (name: string) => void): void {
    if (this.#watchers.has(directory)) return;
    try {
      const watcher = watch(directory, { persistent: false }, (_event, name) => {
        // Temporary names come and go all the time; only finished names mean work.
        if (typeof name === 'string' && name.startsWith(TEMP_PREFIX)) return;
        if (typeof name === 'string') onName(name);
        this.onChange(directory, typeof name === 'string' ? name : undefined);
      });
      watcher.on('error', (error) => {
        this.#watchers.delete(directory);
        this.onError(directory, describeError(error));
      });
      this.#watchers.set(directory, watcher);
    } catch (error) {
      // A subdirectory removed before its watch started: nothing to watch.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(directory, describeError(error));
    }
  }
}
