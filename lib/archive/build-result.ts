/**
 * Build results: the `<arch>_<plat>.result` file buildd writes into an
 * archive-queue entry for every build, one deb822 stanza:
 *
 *   Status: ok | failed
 *   Architecture, Platform   the build's concrete architecture and platform
 *   Host, Started, Finished  where and when (ISO dates); Duration in seconds
 *   Binaries                 space-separated file names of the build's .opk outputs (may be empty)
 *   Error                    why a failed build failed (optional)
 *
 * Reading only; the names must agree with the file name, so a result cannot
 * speak for another build.
 */
import { FormatError } from '../errors.js';
import { ALL, isRealArchitecture, platformProblem } from '../formats/architecture.js';
import { listValue, parseSingleStanza } from '../formats/control.js';

/** One build: a concrete architecture (`all` or a real name) and a concrete platform (`all` or a name). */
export interface Build {
  readonly architecture: string;
  readonly platform: string;
}

export interface BuildResult extends Build {
  readonly status: 'ok' | 'failed';
  readonly host: string | undefined;
  readonly started: string | undefined;
  readonly finished: string | undefined;
  /** Seconds; undefined when absent or not a number. */
  readonly duration: number | undefined;
  /** File names as listed: untrusted until checked against the entry. */
  readonly binaries: string[];
  readonly error: string | undefined;
}

/** `<arch>_<plat>`: the stem of a build's result and log names. */
export function buildName(build: Build): string {
  return `${build.architecture}_${build.platform}`;
}

/** The build a `<arch>_<plat>` stem names, or undefined when it is not one. */
export function parseBuildName(stem: string): Build | undefined {
  const match = /^([^_]+)_([^_]+)$/.exec(stem);
  if (!match) return undefined;
  const [, architecture = '', platform = ''] = match;
  if (!(architecture === ALL || isRealArchitecture(architecture))) return undefined;
  if (platformProblem(platform) !== undefined || platform === 'any') return undefined;
  return { architecture, platform };
}

/** Parses a result file's text; `file` names it in errors, `build` is what its name says. */
export function parseBuildResult(text: string, file: string, build: Build): BuildResult {
  const stanza = parseSingleStanza(text, { file });
  const status = stanza.get('Status');
  if (status === undefined) throw new FormatError('control.missing-field', file, 'no Status field');
  if (status !== 'ok' && status !== 'failed') {
    throw new FormatError('control.bad-field', file, `Status ${JSON.stringify(status)} is neither "ok" nor "failed"`, stanza.lineOf('Status'));
  }
  for (const [field, expected] of [['Architecture', build.architecture], ['Platform', build.platform]] as const) {
    const value = stanza.get(field);
    if (value !== undefined && value !== expected) {
      throw new FormatError(
        'control.bad-field',
        file,
        `${field} ${JSON.stringify(value)} does not match the file name, which says ${JSON.stringify(expected)}`,
        stanza.lineOf(field),
      );
    }
  }
  const duration = stanza.get('Duration');
  return {
    ...build,
    status,
    host: stanza.get('Host'),
    started: stanza.get('Started'),
    finished: stanza.get('Finished'),
    duration: duration !== undefined && /^\d+(\.\d+)?$/.test(duration) ? Number(duration) : undefined,
    binaries: listValue(stanza.get('Binaries')),
    error: stanza.get('Error'),
  };
}
