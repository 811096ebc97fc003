/** Files that may already be gone: a retried step finds its earlier half done. */
import { lstat } from 'node:fs/promises';

/** A catch handler that accepts ENOENT (already removed or moved) and rethrows anything else. */
export function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** Whether a path exists, without following a final symlink. */
export async function pathExists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
