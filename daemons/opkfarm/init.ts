/**
 * `opkfarm init --root DIR [--config FILE]`: create a queue root, or apply a
 * changed configuration to one (queues-layout/init.ts). Without --config it
 * re-applies the root's own `opkfarm.conf`. Prints one line per change and a
 * summary.
 */
import { access } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Argv } from 'yargs';
import { QueueLayout } from '../../lib/layout.js';
import { initQueueRoot, type InitChange, type InitReport } from '../../queues-layout/init.js';

export function initCommands(argv: Argv): Argv {
  return argv.command(
    'init',
    'create or update a queue root from the farm configuration',
    (command) =>
      command
        .option('root', { type: 'string', demandOption: true, describe: 'the queue root directory' })
        .option('config', {
          type: 'string',
          describe: 'the configuration to install (default: the root\'s own opkfarm.conf)',
        }),
    async (args) => {
      const configFile = args.config ?? (await rootConfig(args.root));
      const report = await initQueueRoot({ root: args.root, configFile });
      process.stdout.write(formatReport(report));
    },
  );
}

/** The root's own configuration, when there is one. */
async function rootConfig(root: string): Promise<string> {
  const path = new QueueLayout(root).configFile;
  try {
    await access(path);
  } catch {
    throw new Error(
      `no configuration for ${root}: ${path} does not exist; pass --config FILE ` +
        '(start from queues-layout/opkfarm.conf.example in the opkfarm package)',
    );
  }
  return path;
}

/** One line per change, then a summary. */
export function formatReport(report: InitReport): string {
  const lines = report.changes.map((change) => describeChange(change, report.root));
  const count = (...kinds: Array<InitChange['kind']>): number =>
    report.changes.filter((change) => kinds.includes(change.kind)).length;
  const created = count('directory-created', 'link-created', 'config-created');
  const changed = count('link-changed', 'config-updated');
  const removed = count('link-removed', 'queue-removed');
  const { config } = report;
  const farm =
    `farm "${config.name}", ${plural(config.queues.length, 'build queue')} ` +
    `serving ${plural(config.servedArchitectures.size, 'architecture')}`;
  lines.push(
    created + changed + removed === 0
      ? `queue root ${report.root} is up to date (${farm})`
      : `queue root ${report.root}: ${created} created, ${changed} changed, ${removed} removed (${farm})`,
  );
  return lines.map((line) => `${line}\n`).join('');
}

function describeChange(change: InitChange, root: string): string {
  const path = change.path === root ? root : relative(root, change.path);
  switch (change.kind) {
    case 'directory-created':
      return `created directory ${path}`;
    case 'link-created':
      return `created link ${path} -> ${change.target}`;
    case 'link-changed':
      return `changed link ${path} -> ${change.target} (was ${change.previous})`;
    case 'link-removed':
      return `removed link ${path} (was -> ${change.previous}): architecture no longer served`;
    case 'queue-removed':
      return `removed build queue ${path}: no longer configured, and empty`;
    case 'queue-kept':
      return `kept build queue ${path}: no longer configured, but it holds ${change.files.join(', ')}; remove it by hand`;
    case 'config-created':
      return `installed configuration ${path}`;
    case 'config-updated':
      return `updated configuration ${path}`;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
