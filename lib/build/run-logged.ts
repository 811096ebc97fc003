/**
 * Runs one build command with its output appended to the build log, in a
 * process group of its own, so that a timeout, an abort (buildd stopping) or
 * the command's own end can kill everything it started: no process of a
 * build outlives it.
 */
import { open } from 'node:fs/promises';
import { execa } from 'execa';

export interface LoggedRun {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Added to the environment of buildd. */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
  readonly timeoutSeconds: number;
  readonly signal: AbortSignal;
}

export interface RunResult {
  readonly status: 'ok' | 'failed' | 'timeout' | 'aborted';
  /** One line, when not ok. */
  readonly error?: string;
}

/** Seconds between SIGTERM and SIGKILL to the process group. */
const KILL_GRACE_SECONDS = 5;

export async function runLogged(run: LoggedRun): Promise<RunResult> {
  const log = await open(run.logFile, 'a');
  try {
    await log.write(`$ ${[run.command, ...run.args].join(' ')}\n`);
    const child = execa(run.command, [...run.args], {
      cwd: run.cwd,
      env: { ...run.env },
      stdin: 'ignore',
      // Both streams append to the log (O_APPEND keeps their lines in order).
      stdout: { file: run.logFile, append: true },
      stderr: { file: run.logFile, append: true },
      detached: true,
      reject: false,
    });
    let reason: 'timeout' | 'aborted' | undefined;
    const stop = (why: 'timeout' | 'aborted') => {
      reason ??= why;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_SECONDS * 1000).unref();
    };
    const timer = setTimeout(() => stop('timeout'), run.timeoutSeconds * 1000);
    const onAbort = () => stop('aborted');
    run.signal.addEventListener('abort', onAbort, { once: true });
    if (run.signal.aborted) onAbort();
    const result = await child;
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
    // Whatever the command left running in its group goes with it.
    killGroup(child.pid, 'SIGKILL');

    if (reason === 'aborted') return { status: 'aborted', error: 'stopped' };
    if (reason === 'timeout') {
      await log.write(`opkfarm: killed after ${run.timeoutSeconds} s\n`);
      return { status: 'timeout', error: `timed out after ${run.timeoutSeconds} s` };
    }
    if (result.exitCode === 0) return { status: 'ok' };
    const how = result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`;
    return { status: 'failed', error: `${run.command} ${run.args.join(' ')}: ${how}` };
  } finally {
    await log.close();
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}
