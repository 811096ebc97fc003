/**
 * The default transport: each message becomes one `<timestamp>-<random>.eml`
 * file in the outbox directory (queues-layout/README.md), written under a
 * `.tmp-` name, fsynced and renamed (invariant I1), so a reader of the outbox
 * sees only complete messages. Whatever drains the outbox must skip names
 * starting with TEMP_PREFIX: a crash can leave one behind.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeContentAtomic } from '../fs/atomic.js';
import { composeMessage } from './compose.js';
import type { MailMessage } from './messages.js';
import type { MailTransport } from './transport.js';
import type { WireDelivery, WireTransport } from './wire.js';

/** Suffix of every message file in the outbox. */
export const OUTBOX_SUFFIX = '.eml';

/** Writes each message as an `.eml` file into `directory`; `id` is the file's path. */
export class OutboxTransport implements MailTransport {
  constructor(readonly directory: string) {}

  /** Composes the message and writes it atomically; refuses a message with no recipient. */
  async send(message: MailMessage): Promise<{ id: string }> {
    if (message.to.length === 0 && (message.cc ?? []).length === 0) {
      throw new Error(`mail ${message.messageId} has no recipient`);
    }
    const now = new Date();
    return { id: await this.write(await composeMessage(message, now), now) };
  }

  /** Writes composed bytes as a message file; returns its path. */
  async write(content: Buffer, now = new Date()): Promise<string> {
    // Sorting the names sorts the messages by time of writing.
    const stamp = now.toISOString().replace(/[-:.]/g, '');
    const path = join(this.directory, `${stamp}-${randomBytes(8).toString('hex')}${OUTBOX_SUFFIX}`);
    await writeContentAtomic(path, content);
    return path;
  }
}

/**
 * The outbox as a wire transport, for mail left in the spool by an earlier
 * SMTP or sendmail configuration: each message becomes an `.eml` file (the
 * envelope is not kept; its recipients are the message's To and Cc).
 */
export function outboxWire(outbox: OutboxTransport): WireTransport {
  return {
    description: `outbox ${outbox.directory}`,
    async send(raw): Promise<WireDelivery> {
      return { response: `written to ${await outbox.write(raw)}`, refused: [] };
    },
  };
}
