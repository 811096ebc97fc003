/**
 * The size limits of a build (Build-Log-Limit, Build-Output-Limit): its log
 * file and the total bytes of its output directory. They are checked while
 * the build runs (run-logged.ts polls them and stops a build that goes over)
 * and once more when it ends; a build over a limit fails, and a log over its
 * limit is cut there, with a note saying so, before it is stored or mailed.
 */
import { lstat, open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';

export interface BuildLimits {
  /** Bytes the build log may reach. */
  readonly logBytes: number;
  /** Bytes the files of the output directory may total. */
  readonly outputBytes: number;
}

/** The files a build's limits apply to. */
export interface LimitedFiles {
  readonly logFile: string;
  readonly outputDirectory: string;
}

/** Why the build is over a limit (one line), or undefined while it is within them. */
export async function limitProblem(files: LimitedFiles, limits: BuildLimits): Promise<string | undefined> {
  const log = (await stat(files.logFile).catch(() => undefined))?.size ?? 0;
  if (log > limits.logBytes) return `the build log exceeded Build-Log-Limit (${limits.logBytes} bytes)`;
  const output = await directoryBytes(files.outputDirectory);
  if (output > limits.outputBytes) {
    return `the output directory holds ${output} bytes, more than Build-Output-Limit (${limits.outputBytes} bytes)`;
  }
  return undefined;
}

/** Cuts a log longer than `limit` bytes so that, with a note saying so at its end, it is `limit` bytes at most; returns whether it was cut. */
export async function truncateLog(logFile: string, limit: number): Promise<boolean> {
  const size = (await stat(logFile).catch(() => undefined))?.size ?? 0;
  if (size <= limit) return false;
  const note = Buffer.from(`\nopkfarm: log cut at ${limit} bytes (Build-Log-Limit); the build wrote ${size} bytes or more and failed\n`);
  await truncate(logFile, Math.max(0, limit - note.length));
  const handle = await open(logFile, 'a');
  try {
    await handle.write(note);
  } finally {
    await handle.close();
  }
  return true;
}

/** The apparent size of every file under `directory` (symlinks count as themselves); 0 when it is missing. */
export async function directoryBytes(directory: string): Promise<number> {
  let bytes = 0;
  const entries = await readdir(directory, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) continue;
    bytes += (await lstat(join(entry.parentPath, entry.name)).catch(() => undefined))?.size ?? 0;
  }
  return bytes;
}
