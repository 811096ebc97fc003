/**
 * `opkfarm clean [--dry-run] [--root DIR]`: list, and without --dry-run
 * remove, what dead processes left in a queue root (lib/build/leftovers.ts):
 * work and unpack directories, stray build logs, `.tmp-` files, and stale
 * claims, which go back to their queue. One line per leftover with its size,
 * then a summary. What a live process owns is never listed.
 */
import { relative, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { findLeftovers, removeLeftover, type Leftover } from '../../lib/build/leftovers.js';
import { currentProcess } from '../../lib/queue/heartbeat.js';
import { formatSize } from '../../lib/units.js';
import { openFarm, withRoot } from '../cli/root.js';

export function cleanCommands(argv: Argv): Argv {
  return argv.command(
    'clean',
    'list and remove what dead processes left in the queue root: work directories, temporary files, stale claims',
    (command) =>
      withRoot(command).option('dry-run', { type: 'boolean', default: false, describe: 'only list what would be removed' }),
    async (args) => {
      const { layout, config } = await openFarm(args.root === undefined ? undefined : resolve(args.root));
      const leftovers = await findLeftovers({ layout, self: currentProcess(), leaseSeconds: config.leaseSeconds });
      let bytes = 0;
      for (const leftover of leftovers) {
        if (!args.dryRun) await removeLeftover(layout, leftover);
        bytes += leftover.bytes;
        process.stdout.write(`${describe(leftover, relative(layout.root, leftover.path), args.dryRun)}\n`);
      }
      process.stdout.write(
        leftovers.length === 0
          ? `no leftovers in ${layout.root}\n`
          : `${leftovers.length} leftover${leftovers.length === 1 ? '' : 's'}, ${formatSize(bytes)} in all` +
              `${args.dryRun ? ': nothing changed (--dry-run)' : ''}\n`,
      );
    },
  );
}

/** `would remove tmp/.tmp-build-… (work directory of pid 12 on host, 4.0 KiB)`. */
function describe(leftover: Leftover, path: string, dryRun: boolean): string {
  const isClaim = leftover.kind === 'stale-claim';
  const action = isClaim ? (dryRun ? 'would return' : 'returned') : dryRun ? 'would remove' : 'removed';
  const owner = leftover.owner === undefined ? '' : ` of pid ${leftover.owner.pid} on ${leftover.owner.host}`;
  const what = {
    'work-directory': 'work directory',
    'unpack-directory': 'unpack directory',
    'build-log': 'build log',
    temporary: 'temporary file unchanged for longer than Lease-Seconds',
    'stale-claim': 'stale claim',
  }[leftover.kind];
  return `${action} ${path}${isClaim ? ' to its queue' : ''} (${what}${owner}, ${formatSize(leftover.bytes)})`;
}

