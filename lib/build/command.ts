/**
 * The external builder: a command from the configuration (Builder-Command),
 * run without a shell. It is called as
 *
 *   <command…> <source-package> <architecture> <platform> <output-directory>
 *
 * in a private, empty work directory, with the same values in the environment
 * (OPKFARM_SOURCE_PACKAGE, OPKFARM_ARCHITECTURE, OPKFARM_PLATFORM,
 * OPKFARM_OUTPUT_DIRECTORY) plus OPKFARM_SOURCE, OPKFARM_VERSION,
 * OPKFARM_SOURCE_DIRECTORY (the unpacked source) and OPKFARM_PACKAGES (the
 * binary packages wanted, space-separated). Exit status 0 means success; every
 * `*.opk` it leaves in the output directory is taken. Its output is the log.
 */
import type { Builder } from './builder.js';
import { runLogged } from './run-logged.js';

export function commandBuilder(command: readonly [string, ...string[]]): Builder {
  return async (request) => {
    const [program, ...fixed] = command;
    const run = await runLogged({
      command: program,
      args: [...fixed, request.sourcePackage, request.architecture, request.platform, request.outputDirectory],
      cwd: request.workDirectory,
      env: {
        OPKFARM_SOURCE_PACKAGE: request.sourcePackage,
        OPKFARM_ARCHITECTURE: request.architecture,
        OPKFARM_PLATFORM: request.platform,
        OPKFARM_OUTPUT_DIRECTORY: request.outputDirectory,
        OPKFARM_SOURCE: request.source,
        OPKFARM_VERSION: request.version,
        OPKFARM_SOURCE_DIRECTORY: request.sourceDirectory,
        OPKFARM_PACKAGES: request.packages.join(' '),
      },
      logFile: request.logFile,
      timeoutSeconds: request.timeoutSeconds,
      signal: request.signal,
    });
    if (run.status === 'aborted') return { status: 'aborted' };
    return run.status === 'ok' ? { status: 'ok' } : { status: 'failed', error: run.error };
  };
}
