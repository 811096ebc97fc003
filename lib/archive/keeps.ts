/**
 * Keep marks: `state/keep/<package>_<version without epoch>`, an empty file
 * per package version that garbage collection must never delete (every
 * architecture, platform and build of it), whatever the indexes say.
 */
import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { packageNameProblem } from '../formats/names.js';
import { versionForFileName, versionProblem } from '../formats/version.js';
import { syncDirectory } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { ArchiveCommandError } from './errors.js';
import { makeDirectories } from './directories.js';

/** A package version marked to keep; the version is as pool names have it (no epoch). */
export interface KeepMark {
  readonly package: string;
  readonly version: string;
}

function keepDirectory(layout: QueueLayout): string {
  return join(layout.state, 'keep');
}

function markPath(layout: QueueLayout, pkg: string, version: string): string {
  const problem = packageNameProblem(pkg) ?? versionProblem(version);
  if (problem !== undefined) throw new ArchiveCommandError('archive.bad-package', `${pkg} ${version}`, problem);
  return join(keepDirectory(layout), `${pkg}_${versionForFileName(version)}`);
}

/** Marks a package version to keep; false when it was marked already. */
export async function addKeepMark(layout: QueueLayout, pkg: string, version: string): Promise<boolean> {
  const path = markPath(layout, pkg, version);
  await makeDirectories(layout.state, 'keep');
  try {
    const handle = await open(path, 'wx', 0o644);
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  await syncDirectory(keepDirectory(layout));
  return true;
}

/** Removes a keep mark; false when there was none. */
export async function removeKeepMark(layout: QueueLayout, pkg: string, version: string): Promise<boolean> {
  try {
    await unlink(markPath(layout, pkg, version));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  await syncDirectory(keepDirectory(layout));
  return true;
}

/** Every keep mark, sorted. Names that are not `<package>_<version>` are ignored. */
export async function listKeepMarks(layout: QueueLayout): Promise<KeepMark[]> {
  const names = await readdir(keepDirectory(layout)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const marks: KeepMark[] = [];
  for (const name of names.sort()) {
    const match = /^([^_]+)_([^_]+)$/.exec(name);
    if (match) marks.push({ package: match[1] as string, version: match[2] as string });
  }
  return marks;
}
