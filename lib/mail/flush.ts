/**
 * A pass over the mail spool: give back the claims of dead processes, then
 * claim and attempt each waiting message that is due (or every one, for
 * `opkfarm mail flush`), oldest first. When the server cannot be reached the
 * rest of the pass is not tried: one failed connection per pass, not one per
 * message, and no attempt is counted against a message that was not tried.
 */
import { describeError } from '../errors.js';
import { attemptClaimed, type AttemptOutcome } from './attempt.js';
import type { MailSpool, SpoolPlace } from './spool.js';
import type { WireTransport } from './wire.js';

/** A message the pass did not attempt, because the server was unreachable or its file unreadable. */
export interface SkippedOutcome {
  readonly state: 'not-tried' | 'unreadable';
  readonly name: string;
  readonly messageId?: string;
  readonly subject?: string;
  readonly error: string;
}

export type FlushOutcome = AttemptOutcome | SkippedOutcome;

export interface FlushReport {
  /** One per message attempted or skipped; due-later messages of a pass that takes only due ones are not listed. */
  readonly outcomes: readonly FlushOutcome[];
  /** Messages whose dead sender's claim was given back before the pass. */
  readonly recovered: readonly string[];
}

/** What a flush of due mail did; `error` when the spool itself could not be read or written. */
export interface DueFlush extends FlushReport {
  readonly error?: string;
}

export interface FlushOptions {
  /** Every waiting message, due or not; otherwise only those whose next attempt has come. */
  readonly all?: boolean;
  /** The failed messages too, attempts counted from zero again (once what refused them is fixed). */
  readonly includeFailed?: boolean;
  /** Stops the pass: the attempt in progress is cancelled and its message put back as it was. */
  readonly signal?: AbortSignal;
}

/** Runs one pass; throws only when the spool itself cannot be read or written. */
export async function flushSpool(spool: MailSpool, transport: WireTransport, options: FlushOptions = {}): Promise<FlushReport> {
  const recovered = await spool.recover();
  const outcomes: FlushOutcome[] = [];
  const candidates: [SpoolPlace, string][] = (await spool.names('waiting')).map((name) => ['waiting', name]);
  if (options.includeFailed) candidates.push(...(await spool.names('failed')).map((name): [SpoolPlace, string] => ['failed', name]));
  let unreachable: string | undefined;

  for (const [place, name] of candidates) {
    if (options.signal?.aborted) break;
    const due = (time: Date) => options.all === true || place === 'failed' || time.getTime() <= Date.now();
    let head;
    try {
      head = await spool.readHead(place, name);
    } catch (error) {
      // Gone: another process sent or claimed it since the listing.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      outcomes.push({ state: 'unreadable', name, error: describeError(error) });
      continue;
    }
    if (!due(head.nextAttempt)) continue;
    if (unreachable !== undefined) {
      outcomes.push({ state: 'not-tried', name, messageId: head.messageId, subject: head.subject, error: unreachable });
      continue;
    }
    const claim = await spool.claim(place, name);
    if (claim === undefined) continue;
    let content;
    try {
      content = await spool.read(claim);
    } catch (error) {
      await spool.release(claim);
      outcomes.push({ state: 'unreadable', name, error: describeError(error) });
      continue;
    }
    // Read again under the claim: another process may have tried it since the head was read.
    if (!due(content.mail.nextAttempt)) {
      await spool.release(claim);
      continue;
    }
    const mail = place === 'failed' ? { ...content.mail, attempts: 0 } : content.mail;
    const outcome = await attemptClaimed(spool, transport, claim, mail, content.raw, options.signal);
    outcomes.push(outcome);
    if (outcome.unreachable) unreachable = outcome.error ?? transport.description;
  }
  return { outcomes, recovered };
}

/** One line about a message's outcome, for logs and `opkfarm mail flush`. */
export function describeOutcome(outcome: FlushOutcome): string {
  const subject = outcome.subject === undefined ? '' : ` ${JSON.stringify(outcome.subject)}`;
  const head = `${outcome.name}${subject}`;
  switch (outcome.state) {
    case 'sent':
      return `${head}: sent to ${outcome.sentTo.join(', ')}`;
    case 'deferred':
      return (
        `${head}: deferred${sentPart(outcome)} until ${outcome.nextAttempt?.toISOString() ?? '?'} ` +
        `(attempt ${outcome.attempts}): ${outcome.error ?? ''}`
      );
    case 'failed':
      return `${head}: failed${sentPart(outcome)}, kept in ${outcome.path ?? 'the spool'}: ${outcome.error ?? ''}`;
    case 'released':
      return `${head}: cancelled, left waiting`;
    case 'not-tried':
      return `${head}: not tried, the server is unreachable: ${outcome.error}`;
    case 'unreadable':
      return `${head}: unreadable: ${outcome.error}`;
  }
}

function sentPart(outcome: AttemptOutcome): string {
  return outcome.sentTo.length === 0 ? '' : ` (sent to ${outcome.sentTo.join(', ')}; owed to ${outcome.remaining.join(', ')})`;
}

/** Flushes one spool through one transport, never two passes of this process at once. */
export class SpoolFlusher {
  #running: Promise<unknown> | undefined;

  constructor(
    readonly spool: MailSpool,
    readonly transport: WireTransport,
  ) {}

  async flushDue(signal?: AbortSignal): Promise<DueFlush> {
    if (this.#running !== undefined) return { outcomes: [], recovered: [] };
    try {
      return await this.#run(signal === undefined ? {} : { signal });
    } catch (error) {
      return { outcomes: [], recovered: [], error: describeError(error) };
    }
  }

  flush(options: Omit<FlushOptions, 'all'> = {}): Promise<FlushReport> {
    return this.#run({ ...options, all: true });
  }

  async #run(options: FlushOptions): Promise<FlushReport> {
    // A pass already running finishes first: two passes of one process would only race each other.
    while (this.#running !== undefined) await this.#running.catch(() => undefined);
    const pass = flushSpool(this.spool, this.transport, options);
    this.#running = pass;
    try {
      return await pass;
    } finally {
      this.#running = undefined;
    }
  }
}
