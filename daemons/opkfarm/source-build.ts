/** `opkfarm source build DIR`: make an upload (source opk + .changes) from an SPF 2.0 directory. */
import type { Argv } from 'yargs';
import { buildSourcePackage } from '../../lib/source/build-source.js';

export function sourceCommands(argv: Argv): Argv {
  return argv.command(
    'build <directory>',
    'build <source>_<version>_src.opk and <source>_<version>.changes from an SPF 2.0 source directory',
    (command) =>
      command
        .positional('directory', { type: 'string', demandOption: true, describe: 'the source package directory' })
        .option('output', {
          alias: 'o',
          type: 'string',
          default: '.',
          describe: 'directory for the upload files',
        })
        .option('source-date-epoch', {
          type: 'number',
          describe: 'mtime of every archive entry (default: $SOURCE_DATE_EPOCH, else the change log date)',
        }),
    async (args) => {
      const epoch = args['source-date-epoch'];
      if (epoch !== undefined && (!Number.isInteger(epoch) || epoch < 0)) {
        throw new RangeError(`--source-date-epoch must be a whole number of seconds, not ${epoch}`);
      }
      const result = await buildSourcePackage(args.directory, { outputDirectory: args.output, sourceDateEpoch: epoch });
      process.stdout.write(`${result.sourcePackage}\n${result.changesFile}\n`);
    },
  );
}
