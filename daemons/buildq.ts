#!/usr/bin/env node
/**
 * NAME
 *   buildq - review uploads and route accepted ones into the build queues
 *
 * SYNOPSIS
 *   buildq list
 *   buildq show <source> <version>
 *   buildq accept <source> <version> [--remarks TEXT | --remarks-file FILE]
 *   buildq reject <source> <version> [--remarks TEXT | --remarks-file FILE]
 *   buildq retry <source> <version> [--arch A] [--plat P] [--remarks TEXT]
 *   buildq cancel <source> <version> [--remarks TEXT | --remarks-file FILE]
 *
 * DESCRIPTION
 *   PIPELINE.md step 1. accept copies the upload's source package into a
 *   farm-owned file, links it into queues/master/ and into every build queue
 *   whose architectures and platforms match, and mails the maintainer and
 *   the uploader; reject moves the upload to rejected/<key>/ with the remarks
 *   and mails them. Without --remarks, the remarks are edited in $EDITOR.
 *   After either, mail waiting in the spool whose next attempt has come is
 *   retried.
 *   Every run first finishes any accept an earlier run left half done.
 *
 *   retry gives the failed builds of an included upload back to their queues
 *   as a new upload of the same version (its source package from the pool,
 *   its .changes from archive/logs/); cancel takes an accepted upload out of
 *   the build queues before a buildd takes it, keeping it in rejected/.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseChanges } from '../lib/formats/changes.js';
import { formatStanza } from '../lib/formats/control.js';
import { createMailer, type FarmMailer } from '../lib/mail/mailer.js';
import { acceptedMessage, rejectedMessage } from '../lib/mail/messages.js';
import { acceptUpload, recoverAccepts, routeChanges } from '../lib/queue/accept.js';
import { findIncoming, listIncoming } from '../lib/queue/incoming.js';
import { cancelUpload } from '../lib/queue/cancel.js';
import { rejectUpload } from '../lib/queue/reject.js';
import { retryFailedBuilds } from '../lib/queue/retry.js';
import { runProgram } from './cli/run.js';
import { logEvent } from './cli/log.js';
import { logMailFlush } from './cli/mail-log.js';
import { obtainRemarks } from './cli/remarks.js';
import { openFarm, withRoot, type Farm } from './cli/root.js';

const PROGRAM = 'buildq';

await runProgram(PROGRAM, (argv) =>
  // <version> is an argument here, so yargs' own --version must go.
  withRoot(argv.version(false))
    .command(
      'list',
      'list the uploads in incoming/ with their state',
      (command) => command,
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const uploads = await listIncoming(farm.layout);
        if (uploads.length === 0) process.stdout.write('no uploads in incoming/\n');
        for (const upload of uploads) {
          const name = `${upload.source ?? '?'} ${upload.version ?? '?'}`;
          const detail =
            upload.check.state === 'incomplete'
              ? `waiting for ${upload.check.waitingFor.join(', ')}`
              : upload.check.state === 'invalid'
                ? upload.check.reasons.join('; ')
                : (upload.check.changes.changedBy ?? '');
          process.stdout.write(`${name.padEnd(32)} ${upload.check.state.padEnd(10)} ${detail}\n`);
        }
      },
    )
    .command(
      'show <source> <version>',
      'print an upload: its .changes, its state and the build queues it would go to',
      (command) => uploadArguments(command),
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const upload = await findIncoming(farm.layout, args.source, args.version);
        process.stdout.write(await readFile(upload.changesPath, 'utf8'));
        process.stdout.write(`\nState: ${upload.check.state}\n`);
        if (upload.check.state === 'invalid') process.stdout.write(upload.check.reasons.map((r) => `  ${r}\n`).join(''));
        if (upload.check.state === 'incomplete') process.stdout.write(`Waiting for: ${upload.check.waitingFor.join(', ')}\n`);
        if (upload.check.state === 'complete') {
          const queues = routeChanges(upload.check.changes, farm.config, upload.changesPath);
          process.stdout.write(`Build queues: ${queues.join(', ')}\n`);
        }
      },
    )
    .command(
      'accept <source> <version>',
      'accept an upload into the build queues and mail the maintainer and uploader',
      (command) => remarksOptions(uploadArguments(command)),
      async (args) => {
        const { farm, upload, remarks } = await review(args, 'Accepting', 'An empty message accepts without remarks.');
        const accepted = await acceptUpload(farm.layout, farm.config, upload.changesPath, remarks ?? '', (key, text) =>
          mailAccepted(farm, key, text),
        );
        logEvent(PROGRAM, 'accepted', { key: accepted.key, source: args.source, version: args.version, queues: accepted.queues.join(',') });
        process.stdout.write(`Accepted ${args.source} ${args.version} as ${accepted.key} into ${accepted.queues.join(', ')}\n`);
        logMailFlush(PROGRAM, await farm.mailer.flushDue());
      },
    )
    .command(
      'reject <source> <version>',
      'move an upload to rejected/ with the remarks and mail the maintainer and uploader',
      (command) => remarksOptions(uploadArguments(command)),
      async (args) => {
        const { farm, upload, remarks } = await review(args, 'Rejecting', 'Say what to fix. An empty message aborts the rejection.');
        if (remarks === undefined || remarks === '') throw new Error('rejection aborted: the remarks are empty');
        const rejected = await rejectUpload(farm.layout, upload.changesPath, upload.check, remarks);
        logEvent(PROGRAM, 'rejected', { key: rejected.key, source: args.source, version: args.version });
        const stanza = upload.check.state === 'invalid' ? upload.check.stanza : upload.check.changes.stanza;
        report(
          await farm.mailer.send(
            rejectedMessage(farm.mailer.settings, {
              key: rejected.key,
              source: args.source,
              version: args.version,
              maintainer: stanza?.get('Maintainer'),
              changedBy: stanza?.get('Changed-By'),
              remarks,
              keptIn: rejected.directory,
            }),
          ),
        );
        process.stdout.write(`Rejected ${args.source} ${args.version}; kept in ${rejected.directory}\n`);
        logMailFlush(PROGRAM, await farm.mailer.flushDue());
      },
    )
    .command(
      'retry <source> <version>',
      'give the failed builds of an included upload back to their build queues, as a new build of the same version',
      (command) =>
        remarksOptions(uploadArguments(command))
          .option('arch', { alias: 'a', type: 'string', describe: 'only the failed build of this architecture' })
          .option('plat', { alias: 'p', type: 'string', describe: 'only the failed build of this platform' }),
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const which = args.arch === undefined ? 'failed builds' : `failed build for ${args.arch}${args.plat === undefined ? '' : `/${args.plat}`}`;
        const remarks = args.remarks ?? (args['remarks-file'] === undefined ? `Retrying the ${which}.` : await readFile(args['remarks-file'], 'utf8'));
        const retried = await retryFailedBuilds(
          farm.layout,
          farm.config,
          { source: args.source, version: args.version, architecture: args.arch, platform: args.plat, remarks },
          (key, text) => mailAccepted(farm, key, text),
        );
        const pairs = retried.retried.map((pair) => `${pair.architecture}/${pair.platform} (failed in ${pair.key})`).join(', ');
        logEvent(PROGRAM, 'retried', { key: retried.key, source: args.source, version: args.version, queues: retried.queues.join(',') });
        process.stdout.write(`Retrying ${args.source} ${args.version} as ${retried.key} in ${retried.queues.join(', ')}: ${pairs}\n`);
      },
    )
    .command(
      'cancel <source> <version>',
      'take an accepted upload out of the build queues before it is built; kept in rejected/, the maintainer is told',
      (command) => remarksOptions(uploadArguments(command)),
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const remarks = await obtainRemarks(
          { remarks: args.remarks, remarksFile: args['remarks-file'] },
          template('Cancelling', args.source, args.version, 'Say why. An empty message aborts the cancel.'),
        );
        if (remarks === undefined || remarks === '') throw new Error('cancel aborted: the remarks are empty');
        const cancelled = await cancelUpload(farm.layout, farm.config.queues.map((queue) => queue.name), args.source, args.version, remarks);
        logEvent(PROGRAM, 'cancelled', { key: cancelled.key, source: args.source, version: args.version, queues: cancelled.queues.join(',') });
        const changesFile = join(cancelled.directory, `${cancelled.key}.changes`);
        const changes = parseChanges(await readFile(changesFile, 'utf8'), changesFile);
        report(
          await farm.mailer.send(
            rejectedMessage(farm.mailer.settings, {
              key: cancelled.key,
              source: args.source,
              version: args.version,
              maintainer: changes.maintainer,
              changedBy: changes.changedBy,
              remarks: `Cancelled after acceptance, before it was built.\n\n${remarks}`,
              keptIn: cancelled.directory,
            }),
          ),
        );
        const builds = cancelled.finishedBuilds.length > 0 ? `; finished builds kept in ${join(cancelled.directory, 'builds')}` : '';
        process.stdout.write(`Cancelled ${args.source} ${args.version} (${cancelled.key}), out of ${cancelled.queues.join(', ') || 'no queue'}; kept in ${cancelled.directory}${builds}\n`);
      },
    ),
);

interface ReviewArguments {
  readonly root: string | undefined;
  readonly source: string;
  readonly version: string;
  readonly remarks?: string;
  readonly 'remarks-file'?: string;
}

/** What accept and reject both start with: the farm, the upload, and the reviewer's remarks. */
async function review(args: ReviewArguments, action: string, hint: string) {
  const farm = await openReviewedFarm(args.root);
  const upload = await findIncoming(farm.layout, args.source, args.version);
  const remarks = await obtainRemarks(
    { remarks: args.remarks, remarksFile: args['remarks-file'] },
    template(action, args.source, args.version, hint),
  );
  return { farm, upload, remarks };
}

interface ReviewedFarm extends Farm {
  readonly mailer: FarmMailer;
}

/**
 * Opens the farm and its mailer (a mail setting that cannot work stops
 * buildq before it changes anything), then finishes any accept an earlier
 * run left half done (I5).
 */
async function openReviewedFarm(root: string | undefined): Promise<ReviewedFarm> {
  const opened = await openFarm(root);
  const farm = { ...opened, mailer: createMailer(opened.config, opened.layout) };
  for (const { key } of await recoverAccepts(farm.layout, farm.config, (key, remarks) => mailAccepted(farm, key, remarks))) {
    logEvent(PROGRAM, 'accept-recovered', { key });
  }
  return farm;
}

/** The accepted mail; accept calls it before its last step, so a crash re-sends rather than loses it. */
async function mailAccepted(farm: ReviewedFarm, key: string, remarks: string): Promise<void> {
  const changesText = await readFile(farm.layout.masterChanges(key), 'utf8').catch(() => undefined);
  if (changesText === undefined) return;
  const changes = parseChanges(changesText, farm.layout.masterChanges(key));
  report(
    await farm.mailer.send(
      acceptedMessage(farm.mailer.settings, {
        key,
        source: changes.source,
        version: changes.version,
        maintainer: changes.maintainer,
        changedBy: changes.changedBy,
        remarks,
        changes: formatStanza(changes.stanza),
      }),
    ),
  );
}

function report(delivery: { id: string | undefined; skipped: readonly { field: string; value: string; reason: string }[]; failure?: string }): void {
  for (const skipped of delivery.skipped) {
    logEvent(PROGRAM, 'mail-recipient-skipped', { field: skipped.field, value: skipped.value, reason: skipped.reason });
  }
  if (delivery.failure !== undefined) logEvent(PROGRAM, 'mail-failed', { error: delivery.failure });
}

function uploadArguments<T>(command: import('yargs').Argv<T>) {
  return command
    .positional('source', { type: 'string', demandOption: true, describe: 'source package name' })
    .positional('version', { type: 'string', demandOption: true, describe: 'version (with or without epoch)' });
}

function remarksOptions<T>(command: import('yargs').Argv<T>) {
  return command
    .option('remarks', { alias: 'm', type: 'string', describe: 'the remarks (instead of $EDITOR)' })
    .option('remarks-file', { alias: 'F', type: 'string', describe: 'read the remarks from a file' })
    .conflicts('remarks', 'remarks-file');
}

function template(action: string, source: string, version: string, hint: string): string {
  return `\n# ${action} ${source} ${version}.\n# Write the remarks for the maintainer and the uploader above.\n# Lines starting with '#' are dropped. ${hint}\n`;
}
