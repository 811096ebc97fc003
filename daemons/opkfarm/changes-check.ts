/** `opkfarm changes check FILE`: is an upload complete, still arriving, or invalid (and why)? */
import type { Argv } from 'yargs';
import { checkUpload } from '../../lib/formats/changes-upload.js';

/** sysexits EX_TEMPFAIL: try again later, the files are still arriving. */
const EXIT_INCOMPLETE = 75;

export function changesCommands(argv: Argv): Argv {
  return argv.command(
    'check <file>',
    'check an upload against its .changes: complete (exit 0), invalid (1) or incomplete (75)',
    (command) => command.positional('file', { type: 'string', demandOption: true, describe: 'the .changes file' }),
    async (args) => {
      const check = await checkUpload(args.file);
      switch (check.state) {
        case 'complete':
          process.stdout.write(`${args.file}: complete (${check.changes.source} ${check.changes.version})\n`);
          break;
        case 'incomplete':
          process.stdout.write(`${args.file}: incomplete, waiting for ${check.waitingFor.join(', ')}\n`);
          process.exitCode = EXIT_INCOMPLETE;
          break;
        case 'invalid':
          process.stdout.write(`${args.file}: invalid\n${check.reasons.map((reason) => `  ${reason}\n`).join('')}`);
          process.exitCode = 1;
          break;
      }
    },
  );
}
