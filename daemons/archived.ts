#!/usr/bin/env node
/**
 * NAME
 *   archived - include complete archive-queue entries into the package archive
 *
 * SYNOPSIS
 *   archived [--root DIR] [--once] [--poll] [--rescan SECONDS] [--log-format text|json]
 *            [--status-html DIR]
 *
 * DESCRIPTION
 *   PIPELINE.md step 4. Acts on archive-queue/<key>/ only when its source
 *   package (the completion marker) is present: validates every binary,
 *   links the accepted ones into archive/pool/, rewrites the feed indexes
 *   they touch (temp file, rename), stores the build logs, mails
 *   "installed", and removes the entry last. Holds the archive lock while it
 *   writes. Entries that wait together are included as one batch (oldest
 *   first, at most 64), each step taken for all of them before the next, so
 *   an index is rewritten once per batch rather than once per upload.
 *   While other uploads are on their way (in master/), archived first waits
 *   Archive-Batch-Wait-Milliseconds (200 by default) for them to join the
 *   batch, or until none is on its way; with none, and with --once, it
 *   includes at once. The installed events say how many entries went
 *   together (batch=).
 *
 *   With --status-html DIR, the static status page (opkfarm status) is
 *   written there after every batch and on every rescan; a page that cannot
 *   be written is logged, never fatal.
 *
 *   An entry that cannot be included (its .changes is broken) is logged and
 *   set aside until the next start; the others go on.
 *
 * KILLED
 *   Inclusion is idempotent: an entry whose inclusion was interrupted is
 *   still complete and is included again, giving the same pool and indexes.
 *   On start, holding the archive lock, archived deletes what a killed
 *   inclusion left behind: included entries in tmp/ and index temporaries.
 */
import { pendingArchiveEntries, waitForUploadsOnTheirWay } from '../lib/archive/entry.js';
import { FeedCache, includeEntries, removeInterruptedInclusions } from '../lib/archive/include.js';
import { describeError } from '../lib/errors.js';
import { createMailer } from '../lib/mail/mailer.js';
import { writeStatusPage } from '../lib/status/write.js';
import { daemonOptions } from './cli/daemon-options.js';
import { logEvent, uploadFields } from './cli/log.js';
import { runDaemon } from './cli/loop.js';
import { openFarm } from './cli/root.js';
import { runProgram } from './cli/run.js';

const PROGRAM = 'archived';
/**
 * Entries included per batch: what waits is included together (each index
 * rewritten once), but a batch stays small enough to hold the lock briefly.
 */
const BATCH_LIMIT = 64;

await runProgram(
  PROGRAM,
  (argv) =>
    daemonOptions(argv).command(
      '$0',
      'include complete archive-queue entries into the archive (PIPELINE.md step 4)',
      (command) => command.option('status-html', { type: 'string', describe: 'keep the status page in DIR/index.html up to date' }),
      async (args) => {
        const { layout, config } = await openFarm(args.root);
        const mailer = createMailer(config, layout);
        // Entries whose inclusion failed for a reason a retry cannot fix (a broken .changes): set
        // aside for this run, so one bad entry never stops the others; a restart tries them again.
        const setAside = new Set<string>();
        // Indexes stay parsed between batches; each is checked against the disk before reuse.
        const feedCache = new FeedCache(layout);
        let pageDue = args.statusHtml !== undefined;
        const refreshPage = async () => {
          if (args.statusHtml === undefined || !pageDue) return;
          pageDue = false;
          await writeStatusPage(layout, config, args.statusHtml).catch((error: unknown) =>
            logEvent(PROGRAM, 'status-page-failed', { directory: args.statusHtml, error: describeError(error) }),
          );
        };
        const readyKeys = async () => (await pendingArchiveEntries(layout)).filter((candidate) => !setAside.has(candidate)).slice(0, BATCH_LIMIT);
        const step = async (signal: AbortSignal): Promise<boolean> => {
          let keys = await readyKeys();
          if (keys.length === 0) {
            await refreshPage();
            return false;
          }
          // A group commit, as PostgreSQL's commit_delay: while other uploads are on their way, wait a
          // moment for them, so that one rewrite of each index and one fsync of each directory serve several.
          // Not with --once, which includes what is there and exits.
          const wait = args.once ? 0 : config.archive.batchWaitMilliseconds;
          if (keys.length < BATCH_LIMIT && wait > 0 && (await waitForUploadsOnTheirWay(layout, wait, signal))) keys = await readyKeys();
          pageDue = args.statusHtml !== undefined;
          // Waiting for the archive lock ends when archived is told to stop.
          const options = { mailer, feedCache, unpackedLimitBytes: config.unpackedLimitBytes, lock: { signal } };
          for (const outcome of await includeEntries(layout, keys, options)) {
            const { key } = outcome;
            if ('error' in outcome) {
              setAside.add(key);
              logEvent(PROGRAM, 'inclusion-failed', { key, code: outcome.error.code, error: outcome.error.message, ...uploadFields(key) });
              continue;
            }
            const { report } = outcome;
            for (const refused of report.refused) {
              logEvent(PROGRAM, 'refused', { key, source: report.source, version: report.version, file: refused.file, reason: refused.reason });
            }
            for (const older of report.superseded) {
              logEvent(PROGRAM, 'superseded', {
                key,
                source: report.source,
                version: report.version,
                file: older.file,
                indexed: older.indexedVersion,
                feed: older.feed,
              });
            }
            logEvent(PROGRAM, 'installed', {
              key,
              source: report.source,
              version: report.version,
              suite: report.suite,
              binaries: report.installed.length,
              refused: report.refused.length,
              superseded: report.superseded.length,
              batch: keys.length,
            });
          }
          return true;
        };
        await runDaemon({
          program: PROGRAM,
          layout,
          // The source, the completion marker, arrives inside archive-queue/<key>/.
          watch: [],
          watchSubdirectories: [layout.archiveQueue],
          rescanSeconds: args.rescan ?? config.rescanSeconds,
          poll: args.poll,
          once: args.once,
          recover: async (signal) => {
            for (const path of await removeInterruptedInclusions(layout, { signal })) logEvent(PROGRAM, 'leftover-removed', { path });
          },
          mailer,
          // The queues change without archived: the page follows them at every rescan.
          onWake: (wake) => {
            if (wake === 'rescan') pageDue = args.statusHtml !== undefined;
          },
          step,
        });
      },
    ),
  { requireCommand: false },
);
