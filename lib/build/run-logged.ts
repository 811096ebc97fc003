/**
 * Runs one build command with its output appended to the build log: in the
 * sandbox when there is one, in a process group of its own, with the build's
 * marker in its environment. A timeout, an abort (buildd stopping), a limit
 * exceeded or the command's own end kills everything it started: the process
 * group, then every process still carrying the marker or working in the
 * build's directory (build-processes.ts), so no process of a build outlives it.
 */
import { open } from 'node:fs/promises';
import { execa } from 'execa';
import type { BuildRequest } from './builder.js';
import { killBuildProcesses, markerEnvironment, pidAllocation, processStartTime, type BuildMark } from './build-processes.js';
import { limitProblem, truncateLog, type BuildLimits } from './limits.js';
import { sandboxedCommand, type Sandbox, type SandboxView } from './sandbox.js';

export interface LoggedRun {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Added to the environment of buildd. */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
  readonly timeoutSeconds: number;
  readonly signal: AbortSignal;
  /** The build this command belongs to: its processes are marked and killed by this. */
  readonly mark: BuildMark;
  /** Where the command runs confined, and what it may see and write there; unconfined when undefined. */
  readonly sandbox?: { readonly sandbox: Sandbox; readonly view: SandboxView };
  /** The build's size limits, checked while it runs; the log's is also enforced when it ends. */
  readonly limits?: { readonly limits: BuildLimits; readonly outputDirectory: string };
}

export interface RunResult {
  readonly status: 'ok' | 'failed' | 'timeout' | 'aborted';
  /** One line, when not ok. */
  readonly error?: string;
}

/** What a build command shares with every other command of its build: log, time, mark, sandbox and limits. */
export function commandOfBuild(
  request: BuildRequest,
  command: Pick<LoggedRun, 'command' | 'args' | 'cwd' | 'env'> & { readonly view: SandboxView },
): LoggedRun {
  return {
    command: command.command,
    args: command.args,
    cwd: command.cwd,
    env: command.env,
    logFile: request.logFile,
    timeoutSeconds: request.timeoutSeconds,
    signal: request.signal,
    mark: request.mark,
    // The private /tmp is memory: capped at what the build may output, its other size limit.
    ...(request.sandbox === undefined ? {} : { sandbox: { sandbox: request.sandbox, view: { ...command.view, privateBytes: request.limits.outputBytes } } }),
    limits: { limits: request.limits, outputDirectory: request.outputDirectory },
  };
}

/** execa's types name descriptors up to 9 only; at run time it hands any open descriptor to spawn as it is. */
function openDescriptor(fd: number): 3 {
  return fd as 3;
}

/** Seconds between SIGTERM and SIGKILL to the process group. */
const KILL_GRACE_SECONDS = 5;
/** How often the size limits are checked while the command runs. */
const LIMIT_POLL_MS = 500;

export async function runLogged(run: LoggedRun): Promise<RunResult> {
  const log = await open(run.logFile, 'a');
  try {
    await log.write(`$ ${[run.command, ...run.args].join(' ')}\n`);
    const { command, args } = run.sandbox
      ? sandboxedCommand(run.sandbox.sandbox, run.sandbox.view, run.command, run.args, run.cwd)
      : { command: run.command, args: [...run.args] };
    // Read before the first process is made: what the build makes comes after it.
    const allocation = pidAllocation();
    const child = execa(command, args, {
      cwd: run.cwd,
      env: { ...run.env, ...markerEnvironment(run.mark) },
      stdin: 'ignore',
      // Both streams write to the log's descriptor, opened for appending (O_APPEND keeps their lines in
      // order). Passing the descriptor, not { file }, spares execa a file stream per stream: 3 ms a build.
      stdout: openDescriptor(log.fd),
      stderr: openDescriptor(log.fd),
      detached: true,
      reject: false,
    });
    const since = { allocation, firstStartTime: child.pid === undefined ? undefined : processStartTime(child.pid) };
    let reason: { why: 'timeout' | 'aborted' | 'limit'; detail?: string } | undefined;
    const stop = (why: 'timeout' | 'aborted' | 'limit', detail?: string) => {
      reason ??= { why, detail };
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_SECONDS * 1000).unref();
    };
    const timer = setTimeout(() => stop('timeout'), run.timeoutSeconds * 1000);
    const limits = run.limits;
    const watchdog =
      limits === undefined
        ? undefined
        : setInterval(() => {
            void limitProblem({ logFile: run.logFile, outputDirectory: limits.outputDirectory }, limits.limits).then((problem) => {
              if (problem !== undefined) stop('limit', problem);
            });
          }, LIMIT_POLL_MS);
    const onAbort = () => stop('aborted');
    run.signal.addEventListener('abort', onAbort, { once: true });
    if (run.signal.aborted) onAbort();
    const result = await child;
    clearTimeout(timer);
    clearInterval(watchdog);
    run.signal.removeEventListener('abort', onAbort);
    // Whatever the command left running goes with it: its group, then whatever escaped the group.
    killGroup(child.pid, 'SIGKILL');
    // Even in a PID namespace: bwrap reports its command's exit before the kernel has torn the namespace down.
    await killBuildProcesses(run.mark, since);

    if (reason?.why === 'aborted') return { status: 'aborted', error: 'stopped' };
    const cut = limits !== undefined && (await truncateLog(run.logFile, limits.limits.logBytes));
    if (reason?.why === 'timeout') {
      await log.write(`opkfarm: killed after ${run.timeoutSeconds} s\n`);
      return { status: 'timeout', error: `timed out after ${run.timeoutSeconds} s` };
    }
    if (cut) return { status: 'failed', error: `the build log exceeded Build-Log-Limit (${limits?.limits.logBytes ?? 0} bytes)` };
    if (reason?.why === 'limit') {
      await log.write(`opkfarm: stopped: ${reason.detail ?? 'a limit was exceeded'}\n`);
      return { status: 'failed', error: reason.detail ?? 'a limit was exceeded' };
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
