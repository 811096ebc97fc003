/**
 * The shell every opkfarm program runs in: parses arguments with yargs, runs
 * the command, and turns errors into one line on stderr and an exit status.
 * Programs stay thin; what they do lives in lib/.
 *
 * Exit statuses: 0 success, 1 bad input or failed operation (the message
 * names the file and the problem), 2 usage error, 69 environment problem
 * (a missing tool or an unusable directory).
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EnvironmentError, FormatError, describeError } from '../../lib/errors.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 69;

/** Builds the program's yargs parser from `define` and runs it on the process arguments. */
export async function runProgram(
  name: string,
  define: (argv: Argv) => Argv,
  options: { requireCommand?: boolean } = {},
): Promise<void> {
  const base = yargs(hideBin(process.argv)).scriptName(name).strict();
  const parser = define(
    (options.requireCommand === false ? base : base.demandCommand(1, 'a command is required'))
      .recommendCommands()
      .help()
      .alias('help', 'h')
      .version()
      .wrap(Math.min(100, process.stdout.columns || 100))
      .fail((message: string | undefined, error: Error | undefined) => {
        if (error) throw error;
        process.stderr.write(`${name}: ${message ?? 'usage error'} (see ${name} --help)\n`);
        process.exit(EXIT_USAGE);
      }),
  );
  try {
    await parser.parseAsync();
  } catch (error) {
    process.stderr.write(`${name}: ${describeError(error)}\n`);
    if (process.env.OPKFARM_DEBUG) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
    process.exitCode = exitStatusOf(error);
  }
}

/** The exit status for an error that reached the top of a program. */
export function exitStatusOf(error: unknown): number {
  if (error instanceof FormatError) return EXIT_FAILURE;
  if (error instanceof EnvironmentError) return EXIT_UNAVAILABLE;
  return EXIT_FAILURE;
}
