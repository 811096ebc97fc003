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
  const parts = relative.split('/').filter((name) => name !== '');
  if (parts.length > 0) await makeDirectory(base, parts, syncs);
}

/**
 * Deepest first: one mkdir when the parent exists (the usual case), and the
 * parents only when it says ENOENT.
 */
async function makeDirectory(base: string, parts: readonly string[], syncs: DirectorySyncs | undefined): Promise<void> {
  const parent = join(base, ...parts.slice(0, -1));
  const directory = join(parent, parts[parts.length - 1] as string);
  const outcome = await mkdir(directory).then(
    () => 'created' as const,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return 'exists' as const;
      if (error.code === 'ENOENT' && parts.length > 1) return 'no-parent' as const;
      throw error;
    },
  );
  if (outcome === 'exists') return;
  if (outcome === 'no-parent') {
    await makeDirectory(base, parts.slice(0, -1), syncs);
    await mkdir(directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  if (syncs) syncs.add(parent);
  else await syncDirectory(parent);
}
