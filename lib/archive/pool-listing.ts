/**
 * What the pool holds: every file under `archive/pool/`, sorted, told apart
 * into pool files (`pool/<hash>/<source>/<name>.opk` with a name paths.ts
 * makes), temporaries (`.tmp-*`, a write in progress or a crash's leftover)
 * and strays (anything else, which no writer of the archive makes).
 *
 * listPoolDirectories keeps only each source directory's file names (small:
 * reindex lists tens of thousands and hands whole directories to its
 * readers); poolFilesOf parses them; listPool does both.
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

/** One source directory: `pool/<hash>/<source>`. */
export interface PoolDirectory {
  /** Archive-relative path. */
  readonly path: string;
  readonly source: string;
  /** Names of the regular files in it, temporaries left out, sorted. */
  readonly names: readonly string[];
}

/** One package file in the pool. */
export interface PoolFile {
  /** Archive-relative path. */
  readonly path: string;
  /** The source directory holding it. */
  readonly source: string;
  readonly name: PoolFileName;
}

export interface PoolDirectories {
  /** Sorted by path. */
  readonly directories: PoolDirectory[];
  /** Archive-relative paths of `.tmp-` names, at any depth. */
  readonly temporaries: string[];
  /** Files and directories that are not where or what the pool keeps (file names not checked yet: poolFilesOf). */
  readonly strays: Finding[];
}

export interface PoolListing {
  /** Sorted by path. */
  readonly files: PoolFile[];
  readonly temporaries: string[];
  readonly strays: Finding[];
}

const POOL = 'pool';
const LAYOUT_PROBLEM = 'not a directory: the pool holds pool/<hash>/<source>/<package>.opk only';

/** Lists the source directories of the pool; see the file comment. */
export async function listPoolDirectories(layout: QueueLayout): Promise<PoolDirectories> {
  const directories: PoolDirectory[] = [];
  const temporaries: string[] = [];
  const strays: Finding[] = [];
  const list = async (relative: string): Promise<Dirent[]> => {
    const entries = await readdir(inArchive(layout, relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const kept: Dirent[] = [];
    for (const entry of entries.sort((a, b) => byteOrder(a.name, b.name))) {
      if (entry.name.startsWith(TEMP_PREFIX)) temporaries.push(posix.join(relative, entry.name));
      else kept.push(entry);
    }
    return kept;
  };

  for (const hash of await list(POOL)) {
    const hashPath = posix.join(POOL, hash.name);
    if (!hash.isDirectory()) {
      strays.push({ file: hashPath, problem: LAYOUT_PROBLEM });
      continue;
    }
    for (const source of await list(hashPath)) {
      const path = posix.join(hashPath, source.name);
      if (!source.isDirectory()) {
        strays.push({ file: path, problem: LAYOUT_PROBLEM });
        continue;
      }
      if (poolHash(source.name) !== hash.name) {
        strays.push({ file: path, problem: `a source directory belongs in pool/${poolHash(source.name)}/, not pool/${hash.name}/` });
        continue;
      }
      const names: string[] = [];
      for (const file of await list(path)) {
        if (file.isFile()) names.push(file.name);
        else strays.push({ file: posix.join(path, file.name), problem: 'not a regular file' });
      }
      directories.push({ path, source: source.name, names });
    }
  }
  return { directories, temporaries, strays };
}

/** The pool files of a directory, and its names paths.ts does not make. */
export function poolFilesOf(directory: PoolDirectory): { files: PoolFile[]; strays: Finding[] } {
  const files: PoolFile[] = [];
  const strays: Finding[] = [];
  for (const fileName of directory.names) {
    const path = posix.join(directory.path, fileName);
    const name = parsePoolFileName(fileName);
    if (name === undefined) {
      strays.push({ file: path, problem: 'not a pool file name (<package>_<version>_<arch>_<plat>.opk, or _b<N>.opk for build N > 1)' });
    } else files.push({ path, source: directory.source, name });
  }
  return { files, strays };
}

/** Every pool file, parsed; see the file comment. */
export async function listPool(layout: QueueLayout): Promise<PoolListing> {
  const { directories, temporaries, strays } = await listPoolDirectories(layout);
  const files: PoolFile[] = [];
  for (const directory of directories) {
    const parsed = poolFilesOf(directory);
    files.push(...parsed.files);
    strays.push(...parsed.strays);
  }
  strays.sort((a, b) => byteOrder(a.file, b.file));
  return { files, temporaries, strays };
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
