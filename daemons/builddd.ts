#!/usr/bin/env node
/**
 * NAME
 *   builddd - move fully built uploads from the master queue to the archive queue
 *
 * SYNOPSIS
 *   builddd [--root DIR] [--once] [--poll] [--rescan SECONDS] [--log-format text|json]
 *
 * DESCRIPTION
 *   PIPELINE.md step 3. Watches queues/master/; an entry whose link count is
 *   1 is held by no build queue, so every build's outputs are in its
 *   archive-queue entry. Its .changes and then its source package (the
 *   completion marker) move to archive-queue/<key>/.
 *
 * KILLED
 *   Both moves are renames; a half-moved entry is finished on the next start.
 */
import { builtMasterEntries, keyOfQueueName, moveToArchiveQueue } from '../lib/queue/complete.js';
import { runProgram } from './cli/run.js';
import { logEvent, uploadFields } from './cli/log.js';
import { daemonOptions } from './cli/daemon-options.js';
import { runDaemon, type Wake } from './cli/loop.js';
import { openFarm } from './cli/root.js';

const PROGRAM = 'builddd';

await runProgram(PROGRAM, (argv) =>
  daemonOptions(argv).command(
    '$0',
    'move fully built uploads from queues/master/ to the archive queue (PIPELINE.md step 3)',
    (command) => command,
    async (args) => {
      const { layout, config } = await openFarm(args.root);
      // One scan of master/ moves every built entry: scanning once per entry would be quadratic.
      // Between rescans only the entries named by events are looked at (a claim's
      // unlink names the key whose link count fell), not all of master/.
      let scanAll = true;
      const named = new Set<string>();
      const onWake = (wake: Wake) => {
        const key = wake === 'rescan' ? undefined : keyOfQueueName(wake.name);
        if (wake === 'rescan') scanAll = true;
        else if (key !== undefined) named.add(key);
      };
      const step = async (): Promise<boolean> => {
        const among = scanAll ? undefined : [...named];
        scanAll = false;
        named.clear();
        const keys = await builtMasterEntries(layout, among);
        for (const key of keys) {
          await moveToArchiveQueue(layout, key);
          logEvent(PROGRAM, 'built', { key, ...uploadFields(key) });
        }
        return keys.length > 0;
      };
      await runDaemon({
        program: PROGRAM,
        layout,
        // A buildd's pop unlinks its claim: that, not master/, is where the link count falls.
        watch: [layout.master, ...config.queues.map((queue) => layout.claims(queue.name))],
        rescanSeconds: args.rescan ?? config.rescanSeconds,
        poll: args.poll,
        once: args.once,
        // A half-moved entry still has link count 1 in master/ and is finished by the first step.
        recover: () => Promise.resolve(),
        onWake,
        step,
      });
    },
  ),
  { requireCommand: false },
);
