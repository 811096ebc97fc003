/**
 * `opkfarm mail flush` and `opkfarm mail list`: the mail spool as an
 * operator sees it (lib/mail/spool.ts). flush retries every waiting message
 * now through the configured transport, one line per message; list shows
 * what waits, is being sent or has failed, with attempts and last error.
 */
import type { Argv } from 'yargs';
import { describeOutcome, type FlushReport } from '../../lib/mail/flush.js';
import { createMailer } from '../../lib/mail/mailer.js';
import { MailSpool, spoolStatus, type SpoolEntry, type SpoolStatus } from '../../lib/mail/spool.js';
import { EXIT_FAILURE } from '../cli/run.js';
import { openFarm, withRoot } from '../cli/root.js';

/** sysexits EX_TEMPFAIL: some mail still waits for another attempt. */
const EXIT_TEMPFAIL = 75;

export function mailCommands(argv: Argv): Argv {
  return withRoot(argv)
    .command(
      'flush',
      'retry every message of the mail spool now; exit 0 when all went out, 75 when some still wait, 1 when some failed',
      (command) =>
        command.option('failed', {
          type: 'boolean',
          default: false,
          describe: 'retry the failed messages too (after fixing what refused them)',
        }),
      async (args) => {
        const { config, layout } = await openFarm(args.root);
        const mailer = createMailer(config, layout);
        const report = await mailer.flush({ includeFailed: args.failed });
        for (const name of report.recovered) process.stdout.write(`${name}: given back from a sender that is gone\n`);
        for (const outcome of report.outcomes) process.stdout.write(`${describeOutcome(outcome)}\n`);
        const status = await spoolStatus(layout);
        process.stdout.write(`${flushSummary(report, status, mailer.description)}\n`);
        process.exitCode = flushExitStatus(report);
      },
    )
    .command(
      'list',
      'list the messages of the mail spool: waiting, being sent, failed',
      (command) => command,
      async (args) => {
        const { config, layout } = await openFarm(args.root);
        const entries = await new MailSpool(layout, { leaseSeconds: config.leaseSeconds }).list();
        for (const entry of entries) process.stdout.write(`${describeEntry(entry)}\n`);
        process.stdout.write(`${statusLine(await spoolStatus(layout))}\n`);
      },
    );
}

function flushSummary(report: FlushReport, status: SpoolStatus, description: string): string {
  const count = (state: string) => report.outcomes.filter((outcome) => outcome.state === state).length;
  const tried = report.outcomes.length === 0 ? 'nothing to send' : `${count('sent')} sent, ${count('deferred') + count('not-tried')} deferred, ${count('failed')} failed`;
  return `${tried} through ${description}; ${statusLine(status)}`;
}

function flushExitStatus(report: FlushReport): number {
  const states = new Set(report.outcomes.map((outcome) => outcome.state));
  if (states.has('failed') || states.has('unreadable')) return EXIT_FAILURE;
  if (states.has('deferred') || states.has('not-tried') || states.has('released')) return EXIT_TEMPFAIL;
  return 0;
}

function describeEntry(entry: SpoolEntry): string {
  const state = entry.state.padEnd(7);
  if (entry.mail === undefined) return `${state} ${entry.name}  unreadable: ${entry.problem ?? '?'}`;
  const { mail } = entry;
  const when =
    entry.state === 'waiting'
      ? `next attempt ${mail.nextAttempt.toISOString()}`
      : entry.state === 'sending'
        ? `claimed by ${entry.owner?.host ?? '?'} pid ${entry.owner?.pid ?? '?'}`
        : `kept since ${mail.nextAttempt.toISOString()}`;
  const error = mail.lastError === undefined ? '' : `  last error: ${mail.lastError}`;
  return `${state} ${entry.name}  ${JSON.stringify(mail.subject)} to ${mail.envelope.to.join(', ')}  ${plural(mail.attempts, 'attempt')}, ${when}${error}`;
}

function statusLine(status: SpoolStatus): string {
  if (status.waiting === 0 && status.failed === 0) return 'the mail spool is empty';
  const oldest = status.oldestSeconds === undefined ? '' : ` (the oldest for ${duration(status.oldestSeconds)})`;
  const failed = status.failed === 0 ? '' : `, ${status.failed} failed (retry with opkfarm mail flush --failed)`;
  return `${status.waiting} waiting${oldest}${failed}`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
