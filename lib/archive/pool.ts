/**
 * Placing packages into the pool: `archive/pool/<hash>/<source>/<file>.opk`.
 *
 * Reads the archive-queue file, writes one hard link in the pool (same
 * filesystem, so no copy and no partial file can ever carry a pool name: I1),
 * and has the caller's DirectorySyncs fsync the pool directory (once per
 * batch, before any index names the file). A pool file is never rewritten
 * in place: a name that exists already is accepted only when it holds the
 * same bytes (size and SHA-256), which is what a retried inclusion finds;
 * other bytes are an earlier build of the same version (a rebuild), which
 * stays, and the package gets the next build number (paths.ts: `_b<N>`).
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
import { faultPoint } from '../fault.js';

/** What placing one file did: linked it or found it in place, under which build's name; or why it could not. */
export type Placement =
  | { readonly placed: 'linked' | 'present'; readonly pool: string; readonly build: number }
  | { readonly conflict: string };

/** Builds of one package version the pool holds at most: past this, old builds must be collected first. */
export const MAX_BUILDS = 999;

/**
 * Links `from` (whose digests are known) into the pool as the newest build:
 * the last build, `poolOfBuild(N)`, when it holds the same bytes already (a
 * retried inclusion, or the same package uploaded again), otherwise the first
 * free number after it. Earlier builds are kept. The newest build always has
 * the highest number, so the pool alone says which build an index lists.
 */
export async function placeInPool(
  layout: QueueLayout,
  from: string,
  poolOfBuild: (build: number) => string,
  digests: FileDigests,
  syncs: DirectorySyncs,
): Promise<Placement> {
  const directory = posix.dirname(poolOfBuild(1));
  await makeDirectories(layout.archive, directory, syncs);
  // The link of an interrupted run may be in place; its directory is fsynced again with the others.
  syncs.add(inArchive(layout, directory));
  let sameBytes: number | undefined;
  for (let build = 1; build <= MAX_BUILDS; build++) {
    const pool = poolOfBuild(build);
    const found = await compareWith(from, inArchive(layout, pool), digests);
    if (found === 'not-a-file') return { conflict: `${pool} exists and is not a regular file` };
    if (found === 'same') sameBytes = build;
    if (found !== 'absent') continue;
    if (sameBytes === build - 1) return { placed: 'present', pool: poolOfBuild(sameBytes), build: sameBytes };
    try {
      await link(from, inArchive(layout, pool));
      faultPoint('archived.pool-linked');
      return { placed: 'linked', pool, build };
    } catch (error) {
      // Another writer took the name since (the archive lock makes that a foreign hand): look again.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      build -= 1;
    }
  }
  return {
    conflict: `${poolOfBuild(1)}: the pool holds ${MAX_BUILDS} builds of this version already; collect old ones first (opkfarm archive gc)`,
  };
}

/** What a pool name holds compared with `from`: nothing, the same bytes, another build, or something odd. */
async function compareWith(from: string, target: string, digests: FileDigests): Promise<'absent' | 'same' | 'other-build' | 'not-a-file'> {
  const existing = await lstat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing === undefined) return 'absent';
  if (!existing.isFile()) return 'not-a-file';
  const source = await stat(from);
  if (existing.dev === source.dev && existing.ino === source.ino) return 'same';
  if (existing.size !== digests.size) return 'other-build';
  return (await digestFile(target)).sha256 === digests.sha256 ? 'same' : 'other-build';
}
