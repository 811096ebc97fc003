/**
 * Placing packages into the pool: `archive/pool/<hash>/<source>/<file>.opk`.
 *
 * Reads the archive-queue file, writes one hard link in the pool (same
 * filesystem, so no copy and no partial file can ever carry a pool name: I1),
 * and has the caller's DirectorySyncs fsync the pool directory (once per
 * batch, before any index names the file). A pool file is never rewritten in place:
 * a name that exists already is accepted only when it holds the same bytes
 * (size and SHA-256), which is what a retried inclusion finds; other content
 * is a conflict the caller refuses. The pool keeps one build of a package
 * version: a second, different build of the same version is refused here.
 * Killed at any point, the pool holds either no file under the name or the
 * complete one, and running again finds it in place.
 */
import { link, lstat, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { DirectorySyncs } from '../fs/atomic.js';
import { digestFile, type FileDigests } from '../fs/hash.js';
import type { QueueLayout } from '../layout.js';
import { makeDirectories } from './directories.js';
import { inArchive } from './paths.js';

/** What placing one file did: linked it, found it in place, or found other content under its name. */
export type Placement = { readonly placed: 'linked' | 'present' } | { readonly conflict: string };

/** Links `from` (whose digests are known) to the archive-relative pool path `pool`. */
export async function placeInPool(
  layout: QueueLayout,
  from: string,
  pool: string,
  digests: FileDigests,
  syncs: DirectorySyncs,
): Promise<Placement> {
  const directory = posix.dirname(pool);
  await makeDirectories(layout.archive, directory, syncs);
  const target = inArchive(layout, pool);
  try {
    await link(from, target);
    syncs.add(inArchive(layout, directory));
    return { placed: 'linked' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const [source, existing] = await Promise.all([stat(from), lstat(target)]);
  if (!existing.isFile()) return { conflict: `${pool} exists and is not a regular file` };
  // The link of an interrupted run is still in place; its directory is fsynced again with the others.
  syncs.add(inArchive(layout, directory));
  if (existing.dev === source.dev && existing.ino === source.ino) return { placed: 'present' };
  const found = await digestFile(target);
  if (found.size === digests.size && found.sha256 === digests.sha256) return { placed: 'present' };
  return {
    conflict:
      `${pool} already exists with other content (${found.size} bytes, SHA-256 ${found.sha256}); ` +
      'the pool holds one build of each package version and never rewrites a file',
  };
}
