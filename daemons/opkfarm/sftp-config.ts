/**
 * `opkfarm sftp-config --root DIR [--dedicated --port N --host-key FILE]`:
 * prints (or writes with --output) the OpenSSH configuration that serves the
 * queue root's uploads/incoming/ to uploaders (lib/upload/sftp-config.ts),
 * and warns on stderr when the chroot's ownership would make sshd refuse it.
 */
import type { Argv } from 'yargs';
import { writeContentAtomic } from '../../lib/fs/atomic.js';
import { QueueLayout } from '../../lib/layout.js';
import { chrootProblems } from '../../lib/upload/chroot-check.js';
import { sftpConfigOptions, sftpConfigText } from '../../lib/upload/sftp-config.js';

export function sftpConfigCommands(argv: Argv): Argv {
  return argv.command(
    'sftp-config',
    'print the OpenSSH configuration that serves uploads/incoming/ over SFTP: a Match block, or a whole sshd_config with --dedicated',
    (command) =>
      command
        .option('root', { type: 'string', demandOption: true, describe: 'the queue root (absolute path)' })
        .option('user', { type: 'string', default: 'opkfarm-upload', describe: 'the account uploaders log in as' })
        .option('farm-user', { type: 'string', default: 'opkfarm', describe: 'the account the farm runs as (owns incoming/)' })
        .option('authorized-keys', { type: 'string', default: '/etc/opkfarm/authorized_keys', describe: "the uploaders' public keys" })
        .option('dedicated', { type: 'boolean', default: false, describe: 'a whole sshd_config for an sshd serving only uploads' })
        .option('port', { type: 'number', describe: 'the dedicated sshd\'s port' })
        .option('host-key', { type: 'string', describe: 'the dedicated sshd\'s private host key' })
        .option('pid-file', { type: 'string', default: '/run/opkfarm-sshd.pid', describe: 'the dedicated sshd\'s pid file' })
        .option('listen', { type: 'string', array: true, default: [] as string[], describe: 'addresses the dedicated sshd listens on (default: all)' })
        .option('output', { alias: 'o', type: 'string', describe: 'write to FILE instead of printing' }),
    async (args) => {
      const options = sftpConfigOptions({
        root: args.root,
        user: args.user,
        farmUser: args['farm-user'],
        authorizedKeys: args['authorized-keys'],
        dedicated: args.dedicated,
        port: args.port,
        hostKey: args['host-key'],
        pidFile: args['pid-file'],
        listen: args.listen,
      });
      for (const problem of await chrootProblems(new QueueLayout(options.root).uploads)) {
        process.stderr.write(`opkfarm: warning: sshd will refuse the chroot: ${problem}\n`);
      }
      const text = sftpConfigText(options);
      if (args.output === undefined) process.stdout.write(text);
      else await writeContentAtomic(args.output, text, { mode: 0o644 });
    },
  );
}
