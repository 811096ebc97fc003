/**
 * What the pool holds: every file under `archive/pool/`, sorted, told apart
 * into pool files (`pool/<hash>/<source>/<name>.opk` with a name paths.ts
 * makes), temporaries (`.tmp-*`, a write in progress or a crash's leftover)
 * and strays (anything else, which no writer of the archive makes).
 *
 * Reading only, and without the lock: the pool's writers only add complete
 * files under their names (pool.ts) and gc only removes them, so a listing
 * taken while they run is a listing of some moment.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { TEMP_PREFIX } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import type { Finding } from './findings.js';
import { inArchive, parsePoolFileName, poolHash, type PoolFileName } from './paths.js';

/** One package file in the pool. */
export interface PoolFile {
  /** Archive-relative path. */
  readonly path: string;
  /** The source directory holding it. */
  readonly source: string;
  readonly name: PoolFileName;
}

export interface PoolListing {
  /** Sorted by path. */
  readonly files: PoolFile[];
  /** Archive-relative paths of `.tmp-` names, at any depth. */
  readonly temporaries: string[];
  /** Files and directories that are not where or what the pool keeps. */
  readonly strays: Finding[];
}

const POOL = 'pool';

/** Lists the pool; see the file comment. */
export async function listPool(layout: QueueLayout): Promise<PoolListing> {
  const files: PoolFile[] = [];
  const temporaries: string[] = [];
  const strays: Finding[] = [];
  const sorted = (entries: Dirent[]) => entries.sort((a, b) => byteOrder(a.name, b.name));
  const list = async (relative: string): Promise<Dirent[]> => {
    const entries = await readdir(inArchive(layout, relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const kept: Dirent[] = [];
    for (const entry of sorted(entries)) {
      if (entry.name.startsWith(TEMP_PREFIX)) temporaries.push(posix.join(relative, entry.name));
      else kept.push(entry);
    }
    return kept;
  };

  for (const hash of await list(POOL)) {
    const hashPath = posix.join(POOL, hash.name);
    if (!hash.isDirectory()) {
      strays.push({ file: hashPath, problem: 'not a directory: the pool holds pool/<hash>/<source>/<package>.opk only' });
      continue;
    }
    for (const source of await list(hashPath)) {
      const sourcePath = posix.join(hashPath, source.name);
      if (!source.isDirectory()) {
        strays.push({ file: sourcePath, problem: 'not a directory: the pool holds pool/<hash>/<source>/<package>.opk only' });
        continue;
      }
      if (poolHash(source.name) !== hash.name) {
        strays.push({ file: sourcePath, problem: `a source directory belongs in pool/${poolHash(source.name)}/, not pool/${hash.name}/` });
        continue;
      }
      for (const file of await list(sourcePath)) {
        const path = posix.join(sourcePath, file.name);
        const name = parsePoolFileName(file.name);
        if (!file.isFile()) strays.push({ file: path, problem: 'not a regular file' });
        else if (name === undefined) {
          strays.push({ file: path, problem: 'not a pool file name (<package>_<version>_<arch>_<plat>.opk, or _b<N>.opk for build N > 1)' });
        } else files.push({ path, source: source.name, name });
      }
    }
  }
  return { files, temporaries, strays };
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
