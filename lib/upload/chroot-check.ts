/**
 * OpenSSH's rule for a ChrootDirectory, checked before an admin meets it as
 * "bad ownership or modes for chroot directory" at the first login: the
 * directory and every parent up to / must be owned by root and writable by
 * neither group nor others.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Every path from `directory` up to / that breaks the rule, with why; empty when sshd will accept it. */
export async function chrootProblems(directory: string): Promise<string[]> {
  const problems: string[] = [];
  let path = resolve(directory);
  for (;;) {
    const stats = await stat(path).catch(() => undefined);
    if (stats === undefined) problems.push(`${path} does not exist`);
    else {
      if (!stats.isDirectory()) problems.push(`${path} is not a directory`);
      if (stats.uid !== 0) problems.push(`${path} is owned by uid ${stats.uid}, not root`);
      if ((stats.mode & 0o022) !== 0) problems.push(`${path} is writable by its group or others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`);
    }
    const parent = dirname(path);
    if (parent === path) return problems;
    path = parent;
  }
}
