#!/usr/bin/env node
/**
 * NAME
 *   buildd - build the oldest package of a build queue
 *
 * SYNOPSIS
 *   buildd --queue NAME [--root DIR] [--once] [--poll] [--rescan SECONDS] [--log-format text|json]
 *
 * DESCRIPTION
 *   PIPELINE.md step 2. Takes the oldest entry of queues/buildd/NAME/ (by
 *   acceptance order) as a claim, builds it for every architecture/platform
 *   the queue owes it with the configured builder, moves the binaries, log
 *   and result into archive-queue/<key>/, mails the build log, and pops the
 *   claim. Several buildd processes, on one host or several, may serve one
 *   queue: a claim is an atomic rename, so nothing is built twice.
 *
 *   Builds run in the bubblewrap sandbox (lib/build/sandbox.ts) unless the
 *   queue's Builder-Sandbox is none; with auto and no usable bwrap they run
 *   unconfined, which is logged once at start (event=sandbox sandbox=none).
 *   With bwrap and no usable bwrap, buildd refuses to start.
 *
 * KILLED
 *   SIGTERM kills the build in progress and returns its claim. After SIGKILL
 *   the claim is returned by the next buildd of this host to start (its
 *   owner is dead) or, from another host, when the owner's heartbeat is
 *   older than the lease; work directories of dead builds are removed and
 *   what still runs of their builds is killed. In the sandbox, a build dies
 *   with its buildd (--die-with-parent), whatever the signal.
 */
import { commandBuilder } from '../lib/build/command.js';
import { builtinBuilder } from '../lib/build/builtin.js';
import { buildClaim } from '../lib/build/build-claim.js';
import { removeAbandonedWorkDirectories } from '../lib/build/cleanup.js';
import type { Builder } from '../lib/build/builder.js';
import { hiddenFromBuilds, probeBubblewrap, resolveSandbox } from '../lib/build/sandbox.js';
import type { QueueConfig } from '../lib/config.js';
import { EnvironmentError } from '../lib/errors.js';
import { createMailer } from '../lib/mail/mailer.js';
import { recoverStaleClaims } from '../lib/queue/claims.js';
import { OldestEntries } from '../lib/queue/oldest.js';
import { currentProcess, isProcessAlive } from '../lib/queue/heartbeat.js';
import { daemonOptions } from './cli/daemon-options.js';
import { logEvent, uploadFields } from './cli/log.js';
import { runDaemon } from './cli/loop.js';
import { openFarm } from './cli/root.js';
import { runProgram } from './cli/run.js';

const PROGRAM = 'buildd';

await runProgram(
  PROGRAM,
  (argv) =>
    daemonOptions(argv)
      .option('queue', { alias: 'q', type: 'string', demandOption: true, describe: 'the build queue to serve' })
      .command(
        '$0',
        'build the oldest packages of a build queue, one claim at a time (PIPELINE.md step 2)',
        (command) => command,
        async (args) => {
          const { layout, config } = await openFarm(args.root);
          const queue = config.queues.find((candidate) => candidate.name === args.queue);
          if (!queue) {
            throw new Error(`no build queue "${args.queue}" in ${layout.configFile} (queues: ${config.queues.map((q) => q.name).join(', ')})`);
          }
          const self = currentProcess();
          const builder = builderOf(queue);
          const mode = queue.builder.sandbox;
          const sandboxChoice = resolveSandbox(
            mode,
            mode === 'none' ? { usable: false, reason: 'not probed' } : await probeBubblewrap(),
            hiddenFromBuilds(layout, config),
          );
          if (sandboxChoice.sandbox === undefined && sandboxChoice.required) {
            throw new EnvironmentError(
              `${layout.configFile}: Builder-Sandbox is bwrap for queue "${queue.name}", but ${sandboxChoice.reason}; ` +
                'install bubblewrap, or set Builder-Sandbox to auto or none',
            );
          }
          logEvent(PROGRAM, 'sandbox', {
            queue: queue.name,
            sandbox: sandboxChoice.sandbox === undefined ? 'none' : 'bwrap',
            reason: sandboxChoice.sandbox === undefined ? sandboxChoice.reason : sandboxChoice.note,
          });
          const mailer = createMailer(config, layout);
          const ownClaims = new Set<string>();
          const oldest = new OldestEntries(layout, queue.name);

          const recover = async () => {
            const returned = await recoverStaleClaims(layout, queue.name, config.leaseSeconds, self, ownClaims);
            // Returned entries are older than what the listing holds: build them first (I6).
            if (returned.length > 0) oldest.forget();
            for (const claim of returned) {
              logEvent(PROGRAM, 'claim-returned', {
                queue: queue.name,
                key: claim.key,
                owner: `${claim.owner.host}@${claim.owner.pid}`,
                ...uploadFields(claim.key),
              });
            }
            for (const name of await removeAbandonedWorkDirectories(layout, self.host, isProcessAlive)) {
              logEvent(PROGRAM, 'work-directory-removed', { name, queue: queue.name });
            }
          };

          const step = async (signal: AbortSignal): Promise<boolean> => {
            if (oldest.exhausted) await recover();
            const claim = await oldest.claimOldest(self);
            if (!claim) return false;
            ownClaims.add(claim.path);
            logEvent(PROGRAM, 'claimed', { queue: queue.name, key: claim.key, ...uploadFields(claim.key) });
            const started = Date.now();
            try {
              const outcome = await buildClaim({
                layout,
                queue: {
                  ...queue,
                  timeoutSeconds: queue.builder.timeoutSeconds,
                  limits: { logBytes: queue.builder.logLimitBytes, outputBytes: queue.builder.outputLimitBytes },
                  unpackedLimitBytes: config.unpackedLimitBytes,
                },
                claim,
                builder,
                ...(sandboxChoice.sandbox === undefined ? {} : { sandbox: sandboxChoice.sandbox }),
                self,
                signal,
                mailer,
                onPair: (pair) =>
                  logEvent(PROGRAM, pair.status === 'ok' ? 'built' : 'build-failed', {
                    queue: queue.name,
                    key: claim.key,
                    architecture: pair.architecture,
                    platform: pair.platform,
                    duration: roundedSeconds(pair.durationSeconds),
                    binaries: pair.binaries.length,
                    error: pair.error,
                    ...uploadFields(claim.key),
                  }),
              });
              logEvent(PROGRAM, outcome.state === 'built' ? 'popped' : 'claim-returned', {
                queue: queue.name,
                key: claim.key,
                ...uploadFields(claim.key),
                duration: roundedSeconds((Date.now() - started) / 1000),
              });
              return outcome.state === 'built';
            } finally {
              ownClaims.delete(claim.path);
            }
          };

          await runDaemon({
            program: PROGRAM,
            layout,
            watch: [layout.buildQueue(queue.name)],
            rescanSeconds: args.rescan ?? config.rescanSeconds,
            poll: args.poll,
            once: args.once,
            recover,
            // Another buildd's recovery returns a claim by a rename into the queue: the event names it.
            onWake: (wake) => (wake === 'rescan' ? oldest.forget() : oldest.noticeChange(wake.name)),
            mailer,
            step,
          });
        },
      ),
  { requireCommand: false },
);

/** Seconds to the millisecond, as a number (json logs keep it one). */
function roundedSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function builderOf(queue: QueueConfig): Builder {
  return queue.builder.kind === 'command' ? commandBuilder(queue.builder.command) : builtinBuilder;
}
