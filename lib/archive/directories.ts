/**
 * Durable directory creation for the archive tree. A directory created but
 * not recorded in its parent can vanish in a crash together with the files
 * linked into it, so the parent of every directory created is fsynced.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory, type DirectorySyncs } from '../fs/atomic.js';

/** Creates the directories of `relative` ("/"-separated) under the existing `base`, each durably. */
export async function makeDirectories(base: string, relative: string, syncs?: DirectorySyncs): Promise<void> {
  let parent = base;
  for (const part of relative.split('/').filter((name) => name !== '')) {
    const directory = join(parent, part);
    const created = await mkdir(directory).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return false;
        throw error;
      },
    );
    if (created) {
      if (syncs) syncs.add(parent);
      else await syncDirectory(parent);
    }
    parent = directory;
  }
}
