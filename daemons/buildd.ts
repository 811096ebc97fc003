#!/usr/bin/env node
/**
 * NAME
 *   buildd - build the oldest package of a build queue
 *
 * SYNOPSIS
 *   buildd --queue NAME [--root DIR] [--once] [--poll] [--rescan SECONDS]
 *
 * DESCRIPTION
 *   PIPELINE.md step 2. Takes the oldest entry of queues/buildd/NAME/ (by
 *   acceptance order) as a claim, builds it for every architecture/platform
 *   the queue owes it with the configured builder, moves the binaries, log
 *   and result into archive-queue/<key>/, mails the build log, and pops the
 *   claim. Several buildd processes, on one host or several, may serve one
 *   queue: a claim is an atomic rename, so nothing is built twice.
 *
 * KILLED
 *   SIGTERM kills the build in progress and returns its claim. After SIGKILL
 *   the claim is returned by the next buildd of this host to start (its
 *   owner is dead) or, from another host, when the owner's heartbeat is
 *   older than the lease; work directories of dead builds are removed.
 */
import { commandBuilder } from '../lib/build/command.js';
import { builtinBuilder } from '../lib/build/builtin.js';
import { buildClaim } from '../lib/build/build-claim.js';
import { removeAbandonedWorkDirectories } from '../lib/build/cleanup.js';
import type { Builder } from '../lib/build/builder.js';
import type { QueueConfig } from '../lib/config.js';
import { createMailer } from '../lib/mail/mailer.js';
import { claimEntry, pendingKeys, recoverStaleClaims, type Claim } from '../lib/queue/claims.js';
import { currentProcess, isProcessAlive } from '../lib/queue/heartbeat.js';
import { daemonOptions } from './cli/daemon-options.js';
import { logEvent } from './cli/log.js';
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
          const mailer = createMailer(config, layout);
          const ownClaims = new Set<string>();
          let pending: string[] = [];

          const recover = async () => {
            for (const claim of await recoverStaleClaims(layout, queue.name, config.leaseSeconds, self, ownClaims)) {
              logEvent(PROGRAM, 'claim-returned', { queue: queue.name, key: claim.key, owner: `${claim.owner.host}@${claim.owner.pid}` });
            }
            for (const name of await removeAbandonedWorkDirectories(layout, self.host, isProcessAlive)) {
              logEvent(PROGRAM, 'work-directory-removed', { name });
            }
          };

          /** The oldest entry this process manages to claim, reading the queue only when the cache is empty. */
          const claimOldest = async (): Promise<Claim | undefined> => {
            if (pending.length === 0) {
              await recover();
              pending = await pendingKeys(layout, queue.name);
            }
            while (pending.length > 0) {
              const key = pending.shift() as string;
              const claim = await claimEntry(layout, queue.name, key, self);
              if (claim) return claim;
            }
            return undefined;
          };

          const step = async (signal: AbortSignal): Promise<boolean> => {
            const claim = await claimOldest();
            if (!claim) return false;
            ownClaims.add(claim.path);
            logEvent(PROGRAM, 'claimed', { queue: queue.name, key: claim.key });
            try {
              const outcome = await buildClaim({
                layout,
                queue: { ...queue, timeoutSeconds: queue.builder.timeoutSeconds },
                claim,
                builder,
                self,
                signal,
                mailer,
                onPair: (pair) =>
                  logEvent(PROGRAM, pair.status === 'ok' ? 'built' : 'build-failed', {
                    queue: queue.name,
                    key: claim.key,
                    architecture: pair.architecture,
                    platform: pair.platform,
                    duration: pair.durationSeconds.toFixed(3),
                    binaries: pair.binaries.length,
                    error: pair.error,
                  }),
              });
              logEvent(PROGRAM, outcome.state === 'built' ? 'popped' : 'claim-returned', { queue: queue.name, key: claim.key });
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
            step,
          });
        },
      ),
  { requireCommand: false },
);

function builderOf(queue: QueueConfig): Builder {
  return queue.builder.kind === 'command' ? commandBuilder(queue.builder.command) : builtinBuilder;
}
