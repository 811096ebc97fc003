/** The options every queue daemon takes. */
import type { Argv } from 'yargs';
import { LOG_FORMATS, setLogFormat } from './log.js';
import { withRoot } from './root.js';

export function daemonOptions<T>(argv: Argv<T>) {
  return withRoot(argv)
    .option('once', { type: 'boolean', default: false, describe: 'process everything pending, then exit (tests, cron)' })
    .option('poll', { type: 'boolean', default: false, describe: 'poll instead of inotify (network filesystems)' })
    .option('rescan', { type: 'number', describe: 'seconds between full rescans (default: Rescan-Seconds of the configuration)' })
    .option('log-format', {
      choices: LOG_FORMATS,
      default: 'text' as const,
      describe: 'event lines on stderr: text (key=value) or json (one object per line)',
    })
    // Before the command runs, so that its first line already has the chosen format.
    .middleware((args) => setLogFormat(args.logFormat));
}
