/**
 * The life of a queue daemon: recover on start (I5), then run steps until
 * there is no work, again on every filesystem event (inotify; I7 says events
 * are only hints) and on a periodic rescan, which is the only trigger with
 * --poll on network filesystems. --once runs until no work is left and exits.
 * SIGTERM and SIGINT abort the step through its signal: the step finishes or
 * abandons cleanly, then the daemon exits 0. Its heartbeat is kept fresh
 * throughout and removed on a clean exit. A daemon that sends mail retries
 * the spooled mail that is due on start and on every rescan (--once: before
 * it exits), beside its steps, never holding them up.
 */
import { describeError } from '../../lib/errors.js';
import type { QueueLayout } from '../../lib/layout.js';
import type { FarmMailer } from '../../lib/mail/mailer.js';
import { beat, currentProcess, stopBeating } from '../../lib/queue/heartbeat.js';
import { logEvent } from './log.js';
import { logMailFlush } from './mail-log.js';
import { DirectoryWatch } from './watch.js';

export interface DaemonOptions {
  readonly program: string;
  readonly layout: QueueLayout;
  /** Directories whose changes mean there may be work. */
  readonly watch: readonly string[];
  /** Directories whose entries are directories: changes inside those mean work too. */
  readonly watchSubdirectories?: readonly string[];
  readonly rescanSeconds: number;
  readonly poll: boolean;
  readonly once: boolean;
  /** Finishes or undoes half-done work of an earlier run; the signal aborts when the daemon is told to stop. */
  readonly recover: (signal: AbortSignal) => Promise<void>;
  /**
   * Told, before the steps it causes, what woke the daemon: a name that
   * changed in a watched directory, or 'rescan' (start, the periodic rescan,
   * an event without a name: anything may have changed). Lets a daemon look
   * only where something happened.
   */
  readonly onWake?: (wake: Wake) => void;
  /** Does one unit of work; resolves true when it did something (so there may be more). */
  readonly step: (signal: AbortSignal) => Promise<boolean>;
  /** The daemon's mailer, whose due spooled mail is retried on every rescan. */
  readonly mailer?: Pick<FarmMailer, 'flushDue'>;
}

/** What woke a daemon (see DaemonOptions.onWake). */
export type Wake = { readonly directory: string; readonly name: string } | 'rescan';

const HEARTBEAT_SECONDS = 10;

/** Runs a daemon until it is told to stop (or, with --once, until no work is left). */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { program, layout } = options;
  const self = currentProcess();
  const stopping = new AbortController();
  const stop = (signal: string) => {
    if (!stopping.signal.aborted) logEvent(program, 'stopping', { signal });
    stopping.abort();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await beat(layout, program, self);
  const heartbeat = setInterval(() => void beat(layout, program, self).catch(() => undefined), HEARTBEAT_SECONDS * 1000);
  logEvent(program, 'started', { pid: self.pid, host: self.host, once: options.once, poll: options.poll });
  const mail = new MailRetries(program, options.mailer, stopping.signal);
  try {
    await options.recover(stopping.signal);
    // Told to stop while recovering: nothing more to do (the steps would not start anyway).
    if (stopping.signal.aborted) return;
    if (options.once) {
      options.onWake?.('rescan');
      while (!stopping.signal.aborted && (await options.step(stopping.signal)));
      await mail.run();
      return;
    }
    await runWatching(options, stopping.signal, mail);
  } catch (error) {
    // A wait or a step the stop signal cut short is a clean stop: what it left, the next start recovers.
    if (!stopping.signal.aborted) throw error;
    logEvent(program, 'step-abandoned', { error: describeError(error) });
  } finally {
    await mail.settled();
    clearInterval(heartbeat);
    await stopBeating(layout, program, self);
    logEvent(program, 'stopped');
  }
}

async function runWatching(options: DaemonOptions, signal: AbortSignal, mail: MailRetries): Promise<void> {
  let running = false;
  let again = false;
  let failure: unknown;
  const drain = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        while (!signal.aborted && (await options.step(signal)));
      } while (again && !signal.aborted);
    } catch (error) {
      // Cut short by the stop signal: the stop, not a failure.
      if (signal.aborted) logEvent(options.program, 'step-abandoned', { error: describeError(error) });
      else {
        failure = error;
        abortAll();
      }
    } finally {
      running = false;
    }
  };

  let abortAll = () => undefined as void;
  const finished = new Promise<void>((resolve) => {
    abortAll = resolve;
    // A signal aborted already never fires 'abort' again.
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

  // With --poll there are no watches: the rescan is the poll, and the only
  // trigger that sees other hosts' changes on a network filesystem.
  const wake = (reason: Wake) => {
    options.onWake?.(reason);
    void drain();
  };
  const watches = new DirectoryWatch(
    (directory, name) => wake(name === undefined ? 'rescan' : { directory, name }),
    (directory, error) => logEvent(options.program, 'watch-error', { directory, error }),
  );
  if (!options.poll) {
    for (const directory of options.watch) await watches.add(directory);
    for (const directory of options.watchSubdirectories ?? []) await watches.add(directory, true);
  }
  const rescan = setInterval(() => {
    wake('rescan');
    void mail.run();
  }, options.rescanSeconds * 1000);
  wake('rescan');
  void mail.run();
  try {
    await finished;
    // Let the step in progress finish or abandon before returning.
    while (running) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    clearInterval(rescan);
    watches.close();
  }
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(describeError(failure));
}

/** Runs the mailer's flush of due mail, one pass at a time, and logs what became of each message. */
class MailRetries {
  #running: Promise<void> | undefined;

  constructor(
    private readonly program: string,
    private readonly mailer: Pick<FarmMailer, 'flushDue'> | undefined,
    private readonly signal: AbortSignal,
  ) {}

  /** Starts a pass unless one is running; resolves when the pass ends. */
  run(): Promise<void> {
    const mailer = this.mailer;
    if (mailer === undefined || this.signal.aborted) return Promise.resolve();
    this.#running ??= (async () => {
      logMailFlush(this.program, await mailer.flushDue(this.signal));
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Waits for the pass in progress, if any (the stop signal cancels its attempt). */
  async settled(): Promise<void> {
    await this.#running;
  }
}
