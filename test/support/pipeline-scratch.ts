/**
 * The per-test set-up of the pipeline tests: a scratch directory made before
 * each test, and after it every daemon stopped, `cleanUp` run (e.g. killing
 * a builder's process group) and the directory removed.
 */
import { afterEach, beforeEach } from 'vitest';
import { Daemons } from './daemons.js';
import { removeScratch, scratchDirectory } from './farm.js';

export interface PipelineScratch {
  /** This test's scratch directory. */
  readonly directory: () => string;
  readonly daemons: Daemons;
}

export function usePipelineScratch(prefix: string, cleanUp: () => void = () => undefined): PipelineScratch {
  let scratch: string | undefined;
  const daemons = new Daemons();
  beforeEach(async () => {
    scratch = await scratchDirectory(prefix);
  });
  afterEach(async () => {
    await daemons.stopAll();
    cleanUp();
    await removeScratch(scratch);
    scratch = undefined;
  });
  return {
    directory: () => {
      if (scratch === undefined) throw new Error('no scratch directory outside a test');
      return scratch;
    },
    daemons,
  };
}
