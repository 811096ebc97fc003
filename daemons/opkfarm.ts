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
 *   opkfarm archive release SUITE rel/NAME | diff SUITE SUITE
 *   opkfarm archive keep [PACKAGE VERSION] | unkeep PACKAGE VERSION
 *   opkfarm archive gc [--dry-run] [--keep-builds N] [--grace-hours H] [--max-deletions N]
 *   opkfarm archive verify [--root DIR] [--json]
 *   opkfarm archive reindex [--root DIR]
 *   opkfarm health [--json] [--prometheus FILE]
 *   opkfarm status --html DIR
 *   opkfarm sftp-config --root DIR [--user NAME] [--dedicated --port N --host-key FILE] [--output FILE]
 *   opkfarm upload [--host H [--port P] [--identity FILE] | --root DIR] [--force] FILE.changes
 *
 * DESCRIPTION
 *   The commands around the queue daemons: making uploads from source
 *   directories and sending them to a farm's incoming/, serving incoming/
 *   over SFTP, inspecting the files the farm reads, the mail spool, the
 *   archive's suites and garbage, health and the status page. Each command is
 *   a thin shell over lib/; none of them writes into a queue but clean, which
 *   removes what dead processes left and returns their claims; those that
 *   write into the archive take its lock.
 */
import { runProgram } from './cli/run.js';
import { archiveManageCommands } from './opkfarm/archive-manage.js';
import { reindexCommand } from './opkfarm/archive-reindex.js';
import { verifyCommand } from './opkfarm/archive-verify.js';
import { healthCommands } from './opkfarm/health.js';
import { statusCommands } from './opkfarm/status.js';
import { changesCommands } from './opkfarm/changes-check.js';
import { cleanCommands } from './opkfarm/clean.js';
import { initCommands } from './opkfarm/init.js';
import { mailCommands } from './opkfarm/mail.js';
import { opkCommands } from './opkfarm/opk-info.js';
import { sftpConfigCommands } from './opkfarm/sftp-config.js';
import { sourceCommands } from './opkfarm/source-build.js';
import { uploadCommands } from './opkfarm/upload.js';

await runProgram('opkfarm', (argv) =>
  uploadCommands(sftpConfigCommands(statusCommands(healthCommands(cleanCommands(initCommands(argv))))))
    .command('source', 'source packages (SPF 2.0)', (command) => sourceCommands(command).demandCommand(1))
    .command('changes', 'upload .changes files', (command) => changesCommands(command).demandCommand(1))
    .command('opk', 'binary packages', (command) => opkCommands(command).demandCommand(1))
    .command('mail', 'the mail spool: messages waiting for another attempt', (command) => mailCommands(command).demandCommand(1))
    .command('archive', 'the package archive: suites, keep marks, garbage collection, verify, reindex', (command) =>
      reindexCommand(verifyCommand(archiveManageCommands(command))).demandCommand(1),
    ),
);
