/** `opkfarm opk info FILE`: a package's control fields and, with --list, its contents, after every safety check. */
import type { Argv } from 'yargs';
import { formatStanza } from '../../lib/formats/control.js';
import { readOpk, type OpkDataEntry } from '../../lib/opk/read.js';

export function opkCommands(argv: Argv): Argv {
  return argv.command(
    'info <file>',
    'print the control fields of an opk (and its contents with --list); refuses unsafe packages',
    (command) =>
      command
        .positional('file', { type: 'string', demandOption: true, describe: 'the .opk file' })
        .option('list', { alias: 'l', type: 'boolean', default: false, describe: 'list the data archive' }),
    async (args) => {
      const listing: string[] = [];
      const contents = await readOpk(args.file, {
        onDataEntry: args.list ? (entry) => void listing.push(describeEntry(entry)) : undefined,
      });
      const { outerFormat, compression, data } = contents;
      process.stdout.write(formatStanza(contents.control));
      process.stdout.write(
        `\n# ${outerFormat} outer archive, control ${compression.control}, data ${compression.data}: ` +
          `${data.entries} entries, ${data.totalSize} bytes\n`,
      );
      if (listing.length > 0) process.stdout.write(`${listing.join('\n')}\n`);
    },
  );
}

function describeEntry(entry: OpkDataEntry): string {
  const type = { file: '-', directory: 'd', symlink: 'l', link: 'h' }[entry.type];
  const mode = entry.mode.toString(8).padStart(4, '0');
  const target = entry.linkTarget === undefined ? '' : ` -> ${entry.linkTarget}`;
  return `${type} ${mode} ${String(entry.size).padStart(10)} ${entry.path}${target}`;
}
