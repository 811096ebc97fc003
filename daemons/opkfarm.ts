#!/usr/bin/env node
/**
 * NAME
 *   opkfarm - admin and helper commands of the opk build farm
 *
 * SYNOPSIS
 *   opkfarm init --root DIR [--config FILE]
 *   opkfarm source build DIR [--output DIR]
 *   opkfarm changes check FILE.changes
 *   opkfarm opk info FILE.opk [--list]
 *   opkfarm archive verify [--root DIR] [--json]
 *   opkfarm archive reindex [--root DIR]
 *
 * DESCRIPTION
 *   The commands around the queue daemons: making uploads from source
 *   directories, inspecting the files the farm reads, and looking after the
 *   published archive. Each command is a thin shell over lib/; none of them
 *   writes into a queue, and those that write into the archive take its lock.
 */
import { runProgram } from './cli/run.js';
import { reindexCommand } from './opkfarm/archive-reindex.js';
import { verifyCommand } from './opkfarm/archive-verify.js';
import { changesCommands } from './opkfarm/changes-check.js';
import { initCommands } from './opkfarm/init.js';
import { opkCommands } from './opkfarm/opk-info.js';
import { sourceCommands } from './opkfarm/source-build.js';

await runProgram('opkfarm', (argv) =>
  initCommands(argv)
    .command('source', 'source packages (SPF 2.0)', (command) => sourceCommands(command).demandCommand(1))
    .command('changes', 'upload .changes files', (command) => changesCommands(command).demandCommand(1))
    .command('opk', 'binary packages', (command) => opkCommands(command).demandCommand(1))
    .command('archive', 'the published archive: pool and feeds', (command) => reindexCommand(verifyCommand(command)).demandCommand(1)),
);
