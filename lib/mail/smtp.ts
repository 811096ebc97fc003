/**
 * Submission to an SMTP server through nodemailer, with the composed bytes
 * (`raw`) and an explicit envelope, so nodemailer adds and changes nothing.
 *
 * Every wait is short (connection, greeting, each reply, the whole attempt),
 * because a caller such as buildd waits for the first attempt: a server that
 * is down or silent costs seconds, and the message waits in the spool.
 * `starttls` requires the upgrade (a server that does not offer it is refused
 * rather than talked to in clear); certificates are always verified.
 */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { SmtpSettings } from '../config.js';
import { EnvironmentError } from '../errors.js';
import { DeliveryError, oneLine, type Envelope, type RecipientRefusal, type WireDelivery, type WireTransport } from './wire.js';

/** Milliseconds to wait for the TCP (and TLS) connection and for the greeting. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Milliseconds of silence from the server after which the attempt fails. */
const REPLY_TIMEOUT_MS = 30_000;
/** The longest one attempt may take, whatever the server does. */
const ATTEMPT_TIMEOUT_MS = 60_000;

/** Errors about what was sent (sender, recipients, data) rather than about the connection or login. */
const MESSAGE_ERRORS = new Set(['EENVELOPE', 'EMESSAGE']);

type SmtpError = NodemailerError & { rejectedErrors?: NodemailerError[] };

/** A transport for the configured server; reads the password and CA files now, so a bad path stops the program at start. */
export function openSmtpTransport(settings: SmtpSettings): SmtpTransport {
  const password = settings.login === undefined ? undefined : readSecret(settings.login.passwordFile, 'Mail-SMTP-Password-File');
  const ca = settings.caFile === undefined ? undefined : readFileOf(settings.caFile, 'Mail-SMTP-CA-File');
  return new SmtpTransport(settings, password, ca);
}

export class SmtpTransport implements WireTransport {
  readonly description: string;
  readonly #transporter;

  constructor(settings: SmtpSettings, password: string | undefined, ca: Buffer | undefined) {
    this.description = `smtp ${settings.host}:${settings.port}`;
    this.#transporter = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.security === 'tls',
      requireTLS: settings.security === 'starttls',
      ignoreTLS: settings.security === 'none',
      ...(settings.login === undefined ? {} : { auth: { user: settings.login.user, pass: password ?? '' } }),
      ...(ca === undefined ? {} : { tls: { ca } }),
      connectionTimeout: CONNECT_TIMEOUT_MS,
      greetingTimeout: CONNECT_TIMEOUT_MS,
      dnsTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: REPLY_TIMEOUT_MS,
      logger: false,
    });
  }

  async send(raw: Buffer, envelope: Envelope, signal?: AbortSignal): Promise<WireDelivery> {
    const deadline = AbortSignal.timeout(ATTEMPT_TIMEOUT_MS);
    try {
      const info = await this.#transporter.sendMail({
        envelope: { from: envelope.from, to: [...envelope.to] },
        raw,
        signal: signal === undefined ? deadline : AbortSignal.any([signal, deadline]),
      });
      return { response: oneLine(info.response), refused: (info.rejectedErrors ?? []).map(refusalOf) };
    } catch (error) {
      throw this.#deliveryError(error as SmtpError, signal, deadline);
    }
  }

  #deliveryError(error: SmtpError, signal: AbortSignal | undefined, deadline: AbortSignal): DeliveryError {
    if (signal?.aborted) {
      return new DeliveryError(`${this.description}: cancelled`, { permanent: false, unreachable: false, aborted: true }, { cause: error });
    }
    if (deadline.aborted) {
      return new DeliveryError(`${this.description}: no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`, { permanent: false, unreachable: true }, { cause: error });
    }
    const aboutMessage = MESSAGE_ERRORS.has(error.code ?? '');
    // A refusal without a reply code is nodemailer's own (a message over the advertised SIZE): final too.
    const permanent = aboutMessage && (error.permanent ?? error.responseCode === undefined);
    const refused = error.rejectedErrors?.map(refusalOf);
    return new DeliveryError(
      `${this.description}: ${oneLine(error.message)}`,
      { permanent, unreachable: !aboutMessage, ...(refused === undefined || refused.length === 0 ? {} : { refused }) },
      { cause: error },
    );
  }
}

function refusalOf(error: NodemailerError): RecipientRefusal {
  return {
    recipient: error.recipient ?? '',
    reason: oneLine(error.response ?? error.message),
    permanent: error.permanent ?? false,
  };
}

/** A one-line secret file's content, without its final newline. */
function readSecret(path: string, key: string): string {
  return readFileOf(path, key).toString('utf8').replace(/\r?\n$/, '');
}

function readFileOf(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new EnvironmentError(`cannot read ${key} ${path}: ${code}`, { cause: error });
  }
}
