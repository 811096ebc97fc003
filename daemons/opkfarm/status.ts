/** `opkfarm status --html DIR`: writes the static status page (lib/status/) into DIR/index.html. */
import type { Argv } from 'yargs';
import { join } from 'node:path';
import { STATUS_PAGE, writeStatusPage } from '../../lib/status/write.js';
import { openFarm, withRoot } from '../cli/root.js';

export function statusCommands(argv: Argv): Argv {
  return argv.command(
    'status',
    'write the static status page: every upload and architecture with its state, the queues, links to build logs',
    (command) => withRoot(command).option('html', { type: 'string', demandOption: true, describe: 'the directory to write index.html into' }),
    async (args) => {
      const { layout, config } = await openFarm(args.root);
      const status = await writeStatusPage(layout, config, args.html);
      process.stdout.write(`wrote ${join(args.html, STATUS_PAGE)}: ${status.uploads.length} uploads, ${status.queues.length} queues\n`);
    },
  );
}
