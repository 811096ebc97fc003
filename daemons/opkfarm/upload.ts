/**
 * `opkfarm upload FILE.changes`, like dput: checks the upload here
 * (lib/upload/local-check.ts), then sends it to a farm's incoming/ over SFTP
 * (--host) or into a queue root on this machine (--root), the .changes last,
 * resuming an interrupted upload and refusing one already uploaded there
 * unless --force (lib/upload/send.ts). One line per file on stdout.
 */
import type { Argv } from 'yargs';
import { QueueLayout } from '../../lib/layout.js';
import { checkLocalUpload } from '../../lib/upload/local-check.js';
import { LocalTransport } from '../../lib/upload/local-transport.js';
import { sendUpload, type SentFile } from '../../lib/upload/send.js';
import { SftpTransport, sftpOptionsProblem, type SftpOptions, type StrictHostKeyChecking } from '../../lib/upload/sftp-transport.js';
import type { UploadTransport } from '../../lib/upload/transport.js';
import { openFarm } from '../cli/root.js';

const HOST_KEY_CHECKING: readonly StrictHostKeyChecking[] = ['yes', 'accept-new', 'no'];

export function uploadCommands(argv: Argv): Argv {
  return argv.command(
    'upload <changes>',
    "check an upload and send it to a farm's incoming/ over SFTP (--host) or into a queue root here (--root)",
    (command) =>
      command
        .positional('changes', { type: 'string', demandOption: true, describe: 'the .changes of the upload' })
        .option('host', { alias: 'H', type: 'string', describe: 'the farm\'s SFTP host' })
        .option('port', { alias: 'P', type: 'number', describe: 'its SSH port' })
        .option('user', { alias: 'u', type: 'string', describe: 'the upload account (default: as ssh decides)' })
        .option('identity', { alias: 'i', type: 'string', describe: 'your private key file' })
        .option('remote-directory', { type: 'string', default: '/incoming', describe: 'incoming/ as the farm\'s sftp shows it' })
        .option('strict-host-key-checking', {
          type: 'string',
          choices: HOST_KEY_CHECKING,
          default: 'yes',
          describe: 'what ssh does with an unknown host key (yes: refuse)',
        })
        .option('ssh-option', { alias: 'o', type: 'string', array: true, default: [] as string[], describe: 'more ssh options, KEY=VALUE' })
        .option('limit', { type: 'number', describe: 'bandwidth limit in Kbit/s (sftp -l)' })
        .option('distributions', { type: 'string', describe: 'the distributions the farm accepts, e.g. "trunk rs1" (checked before sending)' })
        .option('root', { type: 'string', describe: 'a queue root on this machine, instead of --host' })
        .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'upload again what was already uploaded there, every file whole' })
        .conflicts('root', ['host', 'port', 'user', 'identity', 'limit', 'distributions']),
    async (args) => {
      let transport: UploadTransport;
      let distributions: readonly string[] | undefined;
      if (args.root !== undefined) {
        const farm = await openFarm(args.root);
        distributions = farm.config.distributions;
        transport = new LocalTransport(new QueueLayout(args.root).incoming);
      } else {
        if (args.host === undefined) throw new Error('upload: say where to: --host HOST (SFTP) or --root DIR (a queue root here)');
        const options: SftpOptions = {
          host: args.host,
          ...(args.port === undefined ? {} : { port: args.port }),
          ...(args.user === undefined ? {} : { user: args.user }),
          ...(args.identity === undefined ? {} : { identity: args.identity }),
          remoteDirectory: args['remote-directory'],
          strictHostKeyChecking: args['strict-host-key-checking'] as StrictHostKeyChecking,
          sshOptions: args['ssh-option'],
          ...(args.limit === undefined ? {} : { limitKbps: args.limit }),
        };
        const problem = sftpOptionsProblem(options);
        if (problem !== undefined) throw new Error(`upload: ${problem}`);
        transport = new SftpTransport(options);
        distributions = args.distributions?.split(/[\s,]+/).filter((name) => name !== '');
      }
      const upload = await checkLocalUpload(args.changes, distributions);
      await sendUpload(upload, transport, {
        force: args.force,
        onFile: (file) => process.stdout.write(`${progressLine(file)}\n`),
        onStaleRemoved: (name) => process.stdout.write(`${name}: removed the older .changes there first\n`),
      });
      process.stdout.write(`Uploaded ${upload.changes.source} ${upload.changes.version} to ${transport.destination}\n`);
    },
  );
}

function progressLine(file: SentFile): string {
  switch (file.outcome) {
    case 'skipped':
      return `${file.name}: already there, not sent again`;
    case 'sent':
      return `${file.name}: sent ${file.bytes} bytes`;
    case 'resumed':
      return `${file.name}: resumed, sent the last ${file.bytes} bytes`;
    case 'renamed':
      return `${file.name}: was complete in its temporary name, renamed`;
  }
}
