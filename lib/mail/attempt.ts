/**
 * One attempt at a claimed spool message, and what becomes of it: dropped
 * when every recipient took it; otherwise kept for the recipients still owed
 * it, deferred with backoff (backoff.ts), or moved to failed/ when they
 * refused for good or the attempts ran out. A cancelled attempt (the process
 * is stopping) puts the message back as it was.
 */
import { describeError } from '../errors.js';
import { MAX_ATTEMPTS, nextAttemptAfter } from './backoff.js';
import type { SpooledMail } from './spool-file.js';
import type { MailSpool, SpoolClaim } from './spool.js';
import { DeliveryError, type RecipientRefusal, type WireTransport } from './wire.js';

export interface AttemptOutcome {
  readonly state: 'sent' | 'deferred' | 'failed' | 'released';
  /** The spool name of the message. */
  readonly name: string;
  readonly messageId: string;
  readonly subject: string;
  /** Recipients that took the message in this attempt. */
  readonly sentTo: readonly string[];
  /** Recipients still owed it (deferred or failed). */
  readonly remaining: readonly string[];
  /** Why it did not reach everyone. */
  readonly error?: string;
  /** Nothing reached a server that takes mail: other messages would fail now too. */
  readonly unreachable: boolean;
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly nextAttempt?: Date;
  /** Where it is kept now: its waiting name when deferred, under failed/ when failed. */
  readonly path?: string;
}

/** Sends a claimed message with `transport` and settles the claim; throws only when the spool cannot be written. */
export async function attemptClaimed(
  spool: MailSpool,
  transport: WireTransport,
  claim: SpoolClaim,
  mail: SpooledMail,
  raw: Buffer,
  signal?: AbortSignal,
): Promise<AttemptOutcome> {
  const base = { name: claim.name, messageId: mail.messageId, subject: mail.subject };
  let refused: readonly RecipientRefusal[];
  let error: DeliveryError | undefined;
  try {
    refused = (await transport.send(raw, mail.envelope, signal)).refused;
  } catch (caught) {
    error = caught instanceof DeliveryError ? caught : new DeliveryError(describeError(caught), { permanent: false, unreachable: false });
    if (error.failure.aborted) {
      await spool.release(claim);
      return { ...base, state: 'released', sentTo: [], remaining: mail.envelope.to, unreachable: false, attempts: mail.attempts };
    }
    const { permanent } = error.failure;
    refused = error.failure.refused ?? mail.envelope.to.map((recipient) => ({ recipient, reason: error?.message ?? '', permanent }));
  }

  const owed = mail.envelope.to.filter((recipient) => refused.some((refusal) => sameRecipient(refusal.recipient, recipient)));
  const sentTo = mail.envelope.to.filter((recipient) => !owed.includes(recipient));
  // A refusal the server gave for an address it was not sent (never expected) still keeps every recipient owed.
  const remaining = owed.length === 0 && refused.length > 0 ? mail.envelope.to : owed;
  if (remaining.length === 0) {
    await spool.finish(claim);
    return { ...base, state: 'sent', sentTo, remaining: [], unreachable: false, attempts: mail.attempts };
  }

  const reason = error?.message ?? refused.map((refusal) => `${refusal.recipient}: ${refusal.reason}`).join('; ');
  const attempts = mail.attempts + 1;
  const now = new Date();
  const permanent = refused.every((refusal) => refusal.permanent);
  const kept: SpooledMail = { ...mail, envelope: { ...mail.envelope, to: remaining }, attempts, lastError: reason };
  const common = { ...base, sentTo, remaining, unreachable: error?.failure.unreachable ?? false, attempts };
  if (permanent || attempts >= MAX_ATTEMPTS) {
    const why = permanent ? reason : `gave up after ${attempts} attempts: ${reason}`;
    const path = await spool.giveUp(claim, { ...kept, lastError: why, nextAttempt: now }, raw);
    return { ...common, state: 'failed', error: why, path };
  }
  const nextAttempt = nextAttemptAfter(attempts, now);
  const path = await spool.defer(claim, { ...kept, nextAttempt }, raw);
  return { ...common, state: 'deferred', error: reason, nextAttempt, path };
}

function sameRecipient(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
