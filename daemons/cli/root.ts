/** The `--root` option every queue program takes, and loading the farm it names. */
import type { Argv } from 'yargs';
import { loadConfig, type FarmConfig } from '../../lib/config.js';
import { EnvironmentError } from '../../lib/errors.js';
import { QueueLayout } from '../../lib/layout.js';

export interface Farm {
  readonly layout: QueueLayout;
  readonly config: FarmConfig;
}

/** Adds `--root DIR` (default $OPKFARM_ROOT). */
export function withRoot<T>(argv: Argv<T>): Argv<T & { root: string | undefined }> {
  return argv.option('root', {
    alias: 'r',
    type: 'string',
    default: process.env.OPKFARM_ROOT,
    defaultDescription: '$OPKFARM_ROOT',
    describe: 'the queue root (made by opkfarm init)',
  });
}

/** Loads the farm at `root`, with an error that says what to do when there is none. */
export async function openFarm(root: string | undefined): Promise<Farm> {
  if (root === undefined || root === '') {
    throw new EnvironmentError('no queue root: pass --root DIR or set OPKFARM_ROOT');
  }
  const layout = new QueueLayout(root);
  try {
    return { layout, config: await loadConfig(layout.configFile) };
  } catch (error) {
    if (error instanceof EnvironmentError) {
      throw new EnvironmentError(`${root} is not a queue root (${error.message}); create one with opkfarm init --root ${root} --config FILE`);
    }
    throw error;
  }
}
