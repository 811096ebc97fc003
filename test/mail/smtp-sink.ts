/**
 * A real SMTP server on 127.0.0.1 for the mail tests (smtp-server), keeping
 * every message it accepts: the envelope, the exact DATA bytes, and the
 * message parsed back with mailparser. It can offer STARTTLS or implicit TLS
 * with a certificate made at test time, require a login, refuse recipients
 * or data with a chosen reply, and stop and start again on the same port.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** MAIL FROM. */
  readonly from: string;
  /** RCPT TO, every recipient the server accepted. */
  readonly to: readonly string[];
  /** The DATA as received (dot-unstuffed). */
  readonly raw: Buffer;
  readonly parsed: ParsedMail;
  /** Whether the session was encrypted (STARTTLS or implicit TLS). */
  readonly secure: boolean;
  /** The logged-in user, when there was a login. */
  readonly user: string | undefined;
}

export interface SinkOptions {
  /** A certificate: the server offers STARTTLS, or speaks TLS from the start with `implicitTls`. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  readonly implicitTls?: boolean;
  /** A login the server requires (only over TLS). */
  readonly login?: { readonly user: string; readonly password: string };
}

/** A reply that refuses: `[550, '5.1.1 no such user']`. */
export type Refusal = readonly [number, string];

export class SmtpSink {
  readonly received: ReceivedMail[] = [];
  /** Refuses RCPT TO for the addresses it returns a reply for. */
  refuseRecipient: (address: string) => Refusal | undefined = () => undefined;
  /** Refuses the message after DATA when it returns a reply. */
  refuseData: () => Refusal | undefined = () => undefined;
  #server: SMTPServer | undefined;
  #port = 0;

  private constructor(private readonly options: SinkOptions) {}

  /** Starts a server on a free port of 127.0.0.1. */
  static async start(options: SinkOptions = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options);
    await sink.#listen(0);
    return sink;
  }

  get port(): number {
    return this.#port;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  /** Stops listening and drops open connections: the server is down. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Starts again on the same port. */
  async restart(): Promise<void> {
    await this.#listen(this.#port);
  }

  async #listen(port: number): Promise<void> {
    const { tls, login } = this.options;
    const disabled = [...(tls === undefined ? ['STARTTLS'] : []), ...(login === undefined ? ['AUTH'] : [])];
    const server = new SMTPServer({
      secure: this.options.implicitTls === true,
      ...(tls === undefined ? {} : { key: tls.key, cert: tls.cert }),
      disabledCommands: disabled,
      authOptional: login === undefined,
      closeTimeout: 100,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (login !== undefined && auth.username === login.user && auth.password === login.password) {
          callback(null, { user: auth.username });
        } else {
          callback(new Error('Invalid username or password'));
        }
      },
      onRcptTo: (address, _session, callback) => {
        const refusal = this.refuseRecipient(address.address);
        callback(refusal === undefined ? null : replyError(refusal));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const refusal = this.refuseData();
          if (refusal !== undefined) {
            callback(replyError(refusal));
            return;
          }
          const raw = Buffer.concat(chunks);
          simpleParser(raw).then(
            (parsed) => {
              this.received.push({
                from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
                to: session.envelope.rcptTo.map((recipient) => recipient.address),
                raw,
                parsed,
                secure: session.secure,
                user: typeof session.user === 'string' ? session.user : undefined,
              });
              callback(null, 'queued');
            },
            (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
          );
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    server.on('error', () => undefined);
    this.#server = server;
    this.#port = (server.server.address() as AddressInfo).port;
  }
}

function replyError([code, text]: Refusal): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `directory`. */
export async function makeCertificate(directory: string): Promise<{ key: Buffer; cert: Buffer; certFile: string }> {
  const keyFile = join(directory, 'smtp-key.pem');
  const certFile = join(directory, 'smtp-cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { key: await readFile(keyFile), cert: await readFile(certFile), certFile };
}

/** The header section of raw message bytes, as sent (folded lines kept). */
export function headerSection(raw: Buffer): string {
  const text = raw.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n'));
}
