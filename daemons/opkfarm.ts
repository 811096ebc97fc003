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
 *   opkfarm mail flush [--root DIR] [--failed]
 *   opkfarm mail list [--root DIR]
 *   opkfarm clean [--dry-run] [--root DIR]
 *
 * DESCRIPTION
 *   The commands around the queue daemons: making uploads from source
 *   directories, inspecting the files the farm reads, and the mail spool.
 *   Each command is a thin shell over lib/; none of them writes into a queue
 *   but clean, which removes what dead processes left and returns their claims.
 */
import { runProgram } from './cli/run.js';
import { changesCommands } from './opkfarm/changes-check.js';
import { cleanCommands } from './opkfarm/clean.js';
import { initCommands } from './opkfarm/init.js';
import { mailCommands } from './opkfarm/mail.js';
import { opkCommands } from './opkfarm/opk-info.js';
import { sourceCommands } from './opkfarm/source-build.js';

await runProgram('opkfarm', (argv) =>
  cleanCommands(initCommands(argv))
    .command('source', 'source packages (SPF 2.0)', (command) => sourceCommands(command).demandCommand(1))
    .command('changes', 'upload .changes files', (command) => changesCommands(command).demandCommand(1))
    .command('opk', 'binary packages', (command) => opkCommands(command).demandCommand(1))
    .command('mail', 'the mail spool: messages waiting for another attempt', (command) => mailCommands(command).demandCommand(1)),
);
