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
 *
 * In the sandbox it sees the source package and the unpacked source
 * read-only and may write only to its work and output directories; the
 * program itself must live where the sandbox's read-only view shows it (not
 * under /tmp, /home, /root or the queue root).
 */
import type { Builder } from './builder.js';
import { commandOfBuild, runLogged } from './run-logged.js';

export function commandBuilder(command: readonly [string, ...string[]]): Builder {
  return async (request) => {
    const [program, ...fixed] = command;
    const run = await runLogged(
      commandOfBuild(request, {
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
        view: {
          readable: [request.sourcePackage, request.sourceDirectory],
          writable: [request.workDirectory, request.outputDirectory],
        },
      }),
    );
    if (run.status === 'aborted') return { status: 'aborted' };
    return run.status === 'ok' ? { status: 'ok' } : { status: 'failed', error: run.error };
  };
}
