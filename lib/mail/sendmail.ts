/**
 * Submission through the local sendmail program (Postfix, Exim and OpenSMTPD
 * all ship one): `<command…> -i -f <from> -- <recipients…>` with the
 * composed bytes on standard input, run without a shell through execa. `-i`
 * keeps a line holding a single dot from ending the message; `--` keeps a
 * recipient starting with `-` from being read as an option.
 *
 * The exit status follows sysexits(3): data, user and host errors are final,
 * any other failure (a full local queue, a timeout) is worth another attempt.
 */
import { accessSync, constants } from 'node:fs';
import { isAbsolute } from 'node:path';
import { execa } from 'execa';
import type { SendmailSettings } from '../config.js';
import { EnvironmentError } from '../errors.js';
import { DeliveryError, oneLine, type Envelope, type WireDelivery, type WireTransport } from './wire.js';

/** The longest a submission may take: local submission is quick, a hung program is killed. */
const SENDMAIL_TIMEOUT_MS = 60_000;
/** EX_DATAERR, EX_NOUSER, EX_NOHOST: the same message would be refused again. */
const PERMANENT_EXIT_CODES = new Set([65, 67, 68]);

/** A transport for the configured program; an absolute program that is not executable stops the program at start. */
export function openSendmailTransport(settings: SendmailSettings): SendmailTransport {
  const [program] = settings.command;
  if (isAbsolute(program)) {
    try {
      accessSync(program, constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new EnvironmentError(`cannot run Mail-Sendmail-Command ${program}: ${code}`, { cause: error });
    }
  }
  return new SendmailTransport(settings.command);
}

export class SendmailTransport implements WireTransport {
  readonly description: string;

  constructor(readonly command: readonly [string, ...string[]]) {
    this.description = `sendmail ${command.join(' ')}`;
  }

  async send(raw: Buffer, envelope: Envelope, signal?: AbortSignal): Promise<WireDelivery> {
    const [program, ...options] = this.command;
    const result = await execa(program, [...options, '-i', '-f', envelope.from, '--', ...envelope.to], {
      input: raw,
      stdout: 'ignore',
      timeout: SENDMAIL_TIMEOUT_MS,
      ...(signal === undefined ? {} : { cancelSignal: signal }),
      reject: false,
    });
    if (!result.failed) return { response: `${program} exited 0`, refused: [] };
    const said = oneLine(result.stderr);
    if (result.isCanceled) throw new DeliveryError(`${this.description}: cancelled`, { permanent: false, unreachable: false, aborted: true });
    if (result.timedOut) {
      throw new DeliveryError(`${this.description}: killed after ${SENDMAIL_TIMEOUT_MS / 1000} s`, { permanent: false, unreachable: true });
    }
    if (result.exitCode === undefined) {
      // It did not start, or a signal ended it: no message gets through this program now.
      throw new DeliveryError(`${this.description}: ${oneLine(result.shortMessage ?? 'failed')}`, { permanent: false, unreachable: true });
    }
    throw new DeliveryError(`${this.description}: exit status ${result.exitCode}${said === '' ? '' : `: ${said}`}`, {
      permanent: PERMANENT_EXIT_CODES.has(result.exitCode),
      unreachable: false,
    });
  }
}
