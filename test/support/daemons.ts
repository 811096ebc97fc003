/**
 * Long-running opkfarm daemons as real processes, for pipeline tests: start
 * them, read what they log, stop them (SIGTERM, measuring the exit) or kill
 * them (SIGKILL), and always clean up in afterEach with `stopAll`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { programPath, type Program } from './programs.js';

export interface DaemonExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** Milliseconds from the signal to the exit. */
  readonly milliseconds: number;
}

export interface Daemon {
  /** The program and its arguments, for messages. */
  readonly label: string;
  readonly pid: number;
  /** What it logged on stderr so far. */
  stderr(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** Resolves when it exits. */
  readonly done: Promise<{ exitCode: number | undefined; signal: string | undefined }>;
}

interface Entry extends Daemon {
  readonly child: ResultPromise;
}

/** The daemons a test started. */
export class Daemons {
  readonly #all: Entry[] = [];

  /** Starts `program args…` (a daemon: it runs until signalled), with `env` added to its environment. */
  start(program: Program, args: readonly string[], env: Readonly<Record<string, string>> = {}): Daemon {
    const label = [program, ...args].join(' ');
    const child = execa(process.execPath, [programPath(program), ...args], {
      env,
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
      buffer: false,
    });
    if (child.pid === undefined) throw new Error(`${label}: could not start`);
    let log = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      log += chunk;
    });
    let hasExited = false;
    const done = child.then((result) => {
      hasExited = true;
      return { exitCode: result.exitCode, signal: result.signal };
    });
    const entry: Entry = { label, pid: child.pid, child, stderr: () => log, exited: () => hasExited, done };
    this.#all.push(entry);
    return entry;
  }

  /**
   * Sends `signal` and waits at most `timeoutMs` for the exit; throws when it
   * does not come. Generous: on a loaded machine (load 13 on two cores) a
   * daemon that had just started once took over 5 s to stop.
   */
  async signal(daemon: Daemon, signal: NodeJS.Signals, timeoutMs = 20_000): Promise<DaemonExit> {
    const started = Date.now();
    if (!daemon.exited()) process.kill(daemon.pid, signal);
    const outcome = await Promise.race([daemon.done, sleep(timeoutMs).then(() => undefined)]);
    if (outcome === undefined) {
      throw new Error(`${daemon.label} (pid ${daemon.pid}) did not exit within ${timeoutMs} ms of ${signal}\n${daemon.stderr()}`);
    }
    return { ...outcome, milliseconds: Date.now() - started };
  }

  /** Stops every daemon still running: SIGTERM, then SIGKILL for those that do not exit within `graceMs`. */
  async stopAll(graceMs = 5_000): Promise<void> {
    const running = this.#all.filter((entry) => !entry.exited());
    for (const entry of running) entry.child.kill('SIGTERM');
    await Promise.race([Promise.all(running.map((entry) => entry.done)), sleep(graceMs)]);
    for (const entry of running) if (!entry.exited()) entry.child.kill('SIGKILL');
    await Promise.all(running.map((entry) => entry.done));
    this.#all.length = 0;
  }

  /** Every daemon's log, labelled: for failure messages. */
  logs(): string {
    return this.#all.map((entry) => `--- ${entry.label} (pid ${entry.pid})\n${entry.stderr()}`).join('\n');
  }
}
