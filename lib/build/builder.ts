/**
 * The contract between buildd and a builder: the built-in SPF 2.0 builder or
 * an external command. A builder turns one source package into the binary
 * packages of one architecture/platform pair, writing them into an output
 * directory and everything it prints into a log file. Every process it
 * starts runs through run-logged.ts with the request's mark, sandbox and
 * limits.
 */
import type { BuildMark } from './build-processes.js';
import type { BuildLimits } from './limits.js';
import type { Sandbox } from './sandbox.js';

export interface BuildRequest {
  readonly source: string;
  readonly version: string;
  /** The source package (`src-<source>` opk). */
  readonly sourcePackage: string;
  /** The unpacked source package directory (format, control, build, *.pkg/, src/). */
  readonly sourceDirectory: string;
  readonly architecture: string;
  readonly platform: string;
  /** Binary packages to produce. */
  readonly packages: readonly string[];
  /** Empty, private to this build, removed by buildd afterwards. */
  readonly workDirectory: string;
  /** Where the .opk files go; buildd takes every `*.opk` found here. */
  readonly outputDirectory: string;
  /** Everything the build prints goes here. */
  readonly logFile: string;
  readonly timeoutSeconds: number;
  readonly limits: BuildLimits;
  /** Marks the build's processes, so that none outlives it. */
  readonly mark: BuildMark;
  /** Confines the build's processes; undefined when builds run unconfined (Builder-Sandbox, or no usable bwrap). */
  readonly sandbox?: Sandbox;
  /** Aborted when buildd is told to stop: the builder kills its processes and resolves 'aborted'. */
  readonly signal: AbortSignal;
}

export interface BuildOutcome {
  readonly status: 'ok' | 'failed' | 'aborted';
  /** One line: why the build failed. */
  readonly error?: string;
}

export type Builder = (request: BuildRequest) => Promise<BuildOutcome>;
