/**
 * `opkfarm archive release|diff|keep|unkeep|gc`: suites and garbage
 * collection of the package archive (lib/archive/suites.ts, keeps.ts, gc.ts).
 * Writers take the archive lock; diff and `gc --dry-run` only read.
 */
import type { Argv } from 'yargs';
import { collectGarbage, type GcReport } from '../../lib/archive/gc.js';
import { addKeepMark, listKeepMarks, removeKeepMark } from '../../lib/archive/keeps.js';
import { diffSuites, releaseSuite } from '../../lib/archive/suites.js';
import { openFarm, withRoot } from '../cli/root.js';
import { formatSize } from '../../lib/units.js';

export function archiveManageCommands(argv: Argv): Argv {
  // <version> is an argument here, so yargs' own --version must go.
  return withRoot(argv.version(false))
    .command(
      'release <from> <to>',
      'make <to> (rel/<name>) a static snapshot of the suite <from> (e.g. dev/trunk), sharing its pool files',
      (command) =>
        command
          .positional('from', { type: 'string', demandOption: true, describe: 'the suite to release, e.g. dev/trunk' })
          .positional('to', { type: 'string', demandOption: true, describe: 'the new suite, rel/<name>' }),
      async (args) => {
        const { layout } = await openFarm(args.root);
        const feeds = await releaseSuite(layout, args.from, args.to);
        process.stdout.write(`released ${args.from} as ${args.to}: ${feeds} feeds\n`);
      },
    )
    .command(
      'diff <a> <b>',
      'list the packages whose version differs between two suites, or that one of them lacks',
      (command) =>
        command
          .positional('a', { type: 'string', demandOption: true, describe: 'a suite, e.g. dev/trunk' })
          .positional('b', { type: 'string', demandOption: true, describe: 'another suite, e.g. rel/rs1' }),
      async (args) => {
        const { layout } = await openFarm(args.root);
        const differences = await diffSuites(layout, args.a, args.b);
        for (const difference of differences) {
          const where = `${difference.architecture}/${difference.platform}`;
          process.stdout.write(`${difference.package} ${where}: ${args.a} ${difference.a ?? '(none)'}, ${args.b} ${difference.b ?? '(none)'}\n`);
        }
        process.stdout.write(`${differences.length} difference${differences.length === 1 ? '' : 's'} between ${args.a} and ${args.b}\n`);
      },
    )
    .command(
      'keep [package] [version]',
      'mark a package version so that gc never deletes it; without arguments, list the marks',
      (command) =>
        command
          .positional('package', { type: 'string', describe: 'binary or source (src-<name>) package' })
          .positional('version', { type: 'string', describe: 'its version' }),
      async (args) => {
        const { layout } = await openFarm(args.root);
        if (args.package === undefined || args.version === undefined) {
          if (args.package !== undefined) throw new Error('keep: give both a package and a version, or neither to list the marks');
          for (const mark of await listKeepMarks(layout)) process.stdout.write(`${mark.package} ${mark.version}\n`);
          return;
        }
        const added = await addKeepMark(layout, args.package, args.version);
        process.stdout.write(`${args.package} ${args.version}: ${added ? 'kept' : 'already kept'}\n`);
      },
    )
    .command(
      'unkeep <package> <version>',
      'remove the keep mark of a package version',
      (command) =>
        command
          .positional('package', { type: 'string', demandOption: true, describe: 'the package' })
          .positional('version', { type: 'string', demandOption: true, describe: 'its version' }),
      async (args) => {
        const { layout } = await openFarm(args.root);
        const removed = await removeKeepMark(layout, args.package, args.version);
        if (!removed) throw new Error(`${args.package} ${args.version}: no keep mark`);
        process.stdout.write(`${args.package} ${args.version}: no longer kept\n`);
      },
    )
    .command(
      'gc',
      'delete pool files no suite lists, no keep mark holds, not among the newest builds and past their grace period',
      (command) =>
        command
          .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'print what would go; change nothing' })
          .option('keep-builds', { type: 'number', describe: 'keep the newest N pool files of each package (default: Archive-Keep-Builds)' })
          .option('grace-hours', { type: 'number', describe: 'keep an unreferenced file this long (default: Archive-Grace-Hours)' })
          .option('max-deletions', { type: 'number', describe: 'delete at most this many files per run (default: Archive-GC-Limit)' }),
      async (args) => {
        const { layout, config } = await openFarm(args.root);
        const settings = {
          keepBuilds: args.keepBuilds ?? config.archive.keepBuilds,
          graceHours: args.graceHours ?? config.archive.graceHours,
          maxDeletions: args.maxDeletions ?? config.archive.gcLimit,
        };
        for (const [name, value] of [
          ['--keep-builds', settings.keepBuilds],
          ['--grace-hours', settings.graceHours],
          ['--max-deletions', settings.maxDeletions],
        ] as const) {
          if (!(Number.isFinite(value) && value >= 0)) throw new Error(`gc: ${name} must be a number of at least 0, not ${String(value)}`);
        }
        const report = await collectGarbage(layout, {
          keepBuilds: Math.floor(settings.keepBuilds),
          graceSeconds: settings.graceHours * 3600,
          maxDeletions: Math.floor(settings.maxDeletions),
          dryRun: args.dryRun,
        });
        process.stdout.write(formatGcReport(report, args.dryRun));
      },
    );
}

export function formatGcReport(report: GcReport, dryRun: boolean): string {
  const lines: string[] = [];
  const verb = dryRun ? 'would delete' : 'deleted';
  for (const file of report.collected) lines.push(`${verb} ${file.pool} (${file.size} bytes${file.orphan ? ', orphan' : ''})`);
  for (const pool of report.orphans) if (!report.collected.some((file) => file.pool === pool)) lines.push(`orphan (kept for now): ${pool}`);
  for (const pool of report.unrecognised) lines.push(`not a pool file name (left alone): ${pool}`);
  const kept = Object.entries(report.kept)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  lines.push(
    `gc: ${verb} ${report.collected.length} file${report.collected.length === 1 ? '' : 's'}, ${formatBytes(report.freedBytes)} ` +
      `in ${report.passes} pass${report.passes === 1 ? '' : 'es'}; kept: ${kept || 'nothing'}` +
      (report.capped ? '; stopped at --max-deletions, run again for the rest' : ''),
  );
  return `${lines.join('\n')}\n`;
}

/** The space gc freed: exact, with the rounded size beside it from 1 KiB on. */
function formatBytes(bytes: number): string {
  return bytes < 1024 ? formatSize(bytes) : `${formatSize(bytes)} (${bytes} bytes)`;
}
