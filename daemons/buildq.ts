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
 *   buildq reject-file <name>... [--remarks TEXT]
 *   buildq clean-incoming [--dry-run] [--remarks TEXT]
 *   buildq retry <source> <version> [--arch A] [--plat P] [--remarks TEXT]
 *   buildq cancel <source> <version> [--remarks TEXT | --remarks-file FILE]
 *
 * DESCRIPTION
 *   PIPELINE.md step 1. list shows every upload in uploads/incoming/ with
 *   its state, size, age and uploader, and every entry that is no part of a
 *   well-formed upload; show prints one upload with its files, its source
 *   package's metadata and the builds each build queue will make; both say
 *   when accept would refuse an upload (a version in another distribution).
 *   accept copies the upload's source package into a farm-owned file, links
 *   it into queues/master/ and into every build queue whose architectures and
 *   platforms match, and mails the maintainer and the uploader. It refuses,
 *   leaving the upload in incoming/, one that is incomplete or invalid, to a
 *   distribution the farm does not take, that no build queue serves, or
 *   whose version is in the pool from an upload to another distribution
 *   (a version goes into one distribution). reject moves the upload to
 *   rejected/<key>/ with the remarks and mails them. Without --remarks, the
 *   remarks are edited in $EDITOR. reject-file moves entries
 *   that are no upload to rejected/<key>/files/ with the reason;
 *   clean-incoming does so for every problem list reports, and rejects
 *   uploads left waiting longer than Upload-Wait-Seconds. After accept or
 *   reject, mail waiting in the spool whose next attempt has come is retried.
 *   Every run first finishes any accept an earlier run left half done.
 *
 *   retry gives the failed builds of an included upload back to their queues
 *   as a new upload of the same version (its source package from the pool,
 *   its .changes from archive/logs/); cancel takes an accepted upload out of
 *   the build queues before a buildd takes it, keeping it in rejected/.
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseChanges } from '../lib/formats/changes.js';
import { formatStanza } from '../lib/formats/control.js';
import { createMailer, type FarmMailer } from '../lib/mail/mailer.js';
import { acceptedMessage, rejectedMessage } from '../lib/mail/messages.js';
import { acceptUpload, recoverAccepts } from '../lib/queue/accept.js';
import { cancelUpload } from '../lib/queue/cancel.js';
import { cleanIncoming, overdueReason } from '../lib/queue/clean-incoming.js';
import { displayName, findIncoming, scanIncoming, uploadOwning, type IncomingUpload } from '../lib/queue/incoming.js';
import { rejectUpload } from '../lib/queue/reject.js';
import { rejectIncomingFile } from '../lib/queue/reject-file.js';
import { retryFailedBuilds } from '../lib/queue/retry.js';
import { acceptRefusals, reviewUpload } from '../lib/queue/upload-review.js';
import { formatIncomingReport } from './buildq/list.js';
import { formatReview } from './buildq/show.js';
import { runProgram } from './cli/run.js';
import { logEvent } from './cli/log.js';
import { logMailFlush } from './cli/mail-log.js';
import { obtainRemarks } from './cli/remarks.js';
import { openFarm, withRoot, type Farm } from './cli/root.js';
import { printable } from './cli/units.js';

const PROGRAM = 'buildq';

await runProgram(PROGRAM, (argv) =>
  // <version> is an argument here, so yargs' own --version must go.
  withRoot(argv.version(false))
    .command(
      'list',
      'list the uploads in incoming/ with their state, size, age and uploader, and every problem file',
      (command) => command,
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const report = await scanIncoming(farm.layout, { waitSeconds: farm.config.uploadWaitSeconds });
        const refusals = await acceptRefusals(farm.layout, report.uploads);
        process.stdout.write(formatIncomingReport(report, farm.config.uploadWaitSeconds, refusals));
      },
    )
    .command(
      'show <source> <version>',
      'print an upload: its .changes, its files, what its source package contains and the builds it will get',
      (command) => uploadArguments(command),
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const upload = await findIncoming(farm.layout, args.source, args.version);
        const changesText = await readChanges(upload.changesPath);
        process.stdout.write(`${printable(changesText, { newlines: true })}\n`);
        process.stdout.write(formatReview(upload, await reviewUpload(upload, farm.config, farm.layout)));
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
        await mailRejected(farm, upload, rejected.key, rejected.directory, remarks);
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
    )
    .command(
      'reject-file <names..>',
      'move entries of incoming/ that are no upload (stray files, links, FIFOs, directories) to rejected/ with the reason',
      (command) =>
        command
          .positional('names', { type: 'string', array: true, demandOption: true, describe: 'names in incoming/, as buildq list shows them' })
          .option('remarks', { alias: 'm', type: 'string', default: '', describe: 'remarks to keep with each entry' }),
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const report = await scanIncoming(farm.layout, { waitSeconds: farm.config.uploadWaitSeconds });
        for (const shown of args.names) {
          const name = nameOf(shown);
          const owner = uploadOwning(report.uploads, name);
          if (owner !== undefined) {
            const upload = printable(`${owner.source ?? '?'} ${owner.version ?? '?'}`);
            throw new Error(`${displayName(name)} belongs to the upload ${upload}: use buildq reject ${upload}`);
          }
          const found = [...report.problems, ...report.arriving].find((file) => file.name === name);
          const rejected = await rejectIncomingFile(farm.layout, name, found?.reason ?? 'moved by the reviewer', args.remarks);
          logEvent(PROGRAM, 'file-rejected', { name: displayName(name), key: rejected.key });
          process.stdout.write(`Moved ${displayName(name)} to ${rejected.directory}\n`);
        }
      },
    )
    .command(
      'clean-incoming',
      'move everything buildq list reports as a problem to rejected/ with the reason, and reject overdue uploads',
      (command) =>
        command
          .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'print what would move; change nothing' })
          .option('remarks', { alias: 'm', type: 'string', default: '', describe: 'remarks to add to each reason' }),
      async (args) => {
        const farm = await openReviewedFarm(args.root);
        const waitSeconds = farm.config.uploadWaitSeconds;
        const report = await scanIncoming(farm.layout, { waitSeconds });
        if (args.dryRun) {
          for (const upload of report.uploads.filter((candidate) => candidate.overdue)) {
            process.stdout.write(`would reject ${displayName(basename(upload.changesPath))}: ${printable(overdueReason(upload, waitSeconds))}\n`);
          }
          for (const file of report.problems) process.stdout.write(`would move ${displayName(file.name)}: ${printable(file.reason)}\n`);
          return;
        }
        const cleaned = await cleanIncoming(farm.layout, report, {
          waitSeconds,
          remarks: args.remarks,
          onUploadRejected: (upload, rejected, remarks) => mailRejected(farm, upload, rejected.key, rejected.directory, remarks),
        });
        for (const entry of cleaned) {
          logEvent(PROGRAM, 'incoming-cleaned', { name: entry.name, key: entry.rejected.key });
          process.stdout.write(`Moved ${entry.name} to ${entry.rejected.directory}: ${printable(entry.reason)}\n`);
        }
        if (cleaned.length === 0) process.stdout.write('nothing to clean in incoming/\n');
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

/** The rejected mail to the upload's maintainer and uploader. */
async function mailRejected(farm: ReviewedFarm, upload: IncomingUpload, key: string, keptIn: string, remarks: string): Promise<void> {
  const stanza = upload.check.state === 'invalid' ? upload.check.stanza : upload.check.changes.stanza;
  report(
    await farm.mailer.send(
      rejectedMessage(farm.mailer.settings, {
        key,
        source: upload.source ?? '?',
        version: upload.version ?? '?',
        maintainer: stanza?.get('Maintainer'),
        changedBy: stanza?.get('Changed-By'),
        remarks,
        keptIn,
      }),
    ),
  );
}

/** The .changes text for show, read without following a link (findIncoming found a regular file). */
async function readChanges(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** A name as typed, or as list printed it (JSON-quoted when it holds unusual characters). */
function nameOf(shown: string): string {
  if (shown.startsWith('"') && shown.endsWith('"') && shown.length >= 2) {
    try {
      const parsed: unknown = JSON.parse(shown);
      if (typeof parsed === 'string') return parsed;
    } catch {
      // Not JSON after all: a name with quotes in it.
    }
  }
  return shown;
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
