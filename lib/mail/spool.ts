/**
 * The mail spool (queues-layout/README.md): every message the SMTP or
 * sendmail transport has not handed over yet, so that no notice is lost and
 * no pipeline step waits for a mail server.
 *
 *     mail-spool/<name>                        waiting; due at its Next-Attempt
 *     mail-spool/claims/<name>@<host>@<pid>    being sent by that process
 *     mail-spool/failed/<name>                 refused for good, or tried too often
 *
 * `<name>` is `<created>-<random>.mail` (spool-file.ts has the content), so
 * names sort by age. A message is sent only by the process that claimed it,
 * and a claim is a rename: of two processes (daemons on several hosts,
 * `opkfarm mail flush`) only one gets it, so no message is sent twice. A new
 * message is written straight into the claims as the sender's own, so no
 * flusher can take it during its first attempt.
 *
 * The outcome of an attempt is written before the claim goes: a deferred
 * message is rewritten under its waiting name, a failed one under failed/,
 * then the claim is unlinked. A claim whose owner is gone (this host: the
 * process is dead; another host: the claim is older than the lease, far
 * longer than an attempt may take) is given back: unlinked when a newer copy
 * of the message exists, else renamed to its waiting name. A message is thus
 * sent twice only when its sender dies between the server's acceptance and
 * the unlink.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX, syncDirectory, writeContentAtomic } from '../fs/atomic.js';
import { pathExists } from '../fs/missing.js';
import type { QueueLayout } from '../layout.js';
import { currentProcess, isProcessAlive, type ProcessIdentity } from '../queue/heartbeat.js';
import { MAX_HEAD_BYTES, formatSpoolFile, parseSpoolFile, parseSpoolHead, type SpooledMail } from './spool-file.js';

/** Where an unclaimed message is: waiting for an attempt, or failed. */
export type SpoolPlace = 'waiting' | 'failed';

/** A message this process has claimed: it alone may send, defer, fail or release it. */
export interface SpoolClaim {
  readonly name: string;
  readonly path: string;
  /** Where it was claimed from, and goes back to when released. */
  readonly origin: SpoolPlace;
}

/** One message as `opkfarm mail list` shows it. */
export interface SpoolEntry {
  readonly name: string;
  readonly state: 'waiting' | 'sending' | 'failed';
  /** Undefined when the file could not be read (`problem` says why). */
  readonly mail?: SpooledMail;
  readonly problem?: string;
  /** The claiming process of a message being sent. */
  readonly owner?: ProcessIdentity;
}

/** What the health check reports about mail. */
export interface SpoolStatus {
  /** Messages waiting for an attempt or being sent. */
  readonly waiting: number;
  /** Messages kept in failed/ for an operator. */
  readonly failed: number;
  /** Age of the oldest waiting message, undefined when none waits. */
  readonly oldestSeconds: number | undefined;
}

const NAME = /^(\d{8}T\d{9}Z)-[0-9a-f]{16}\.mail$/;
const CLAIM = /^(.+)@([^@/]+)@(\d+)$/;

/** Claims this process holds: never taken for stale, even if a dead process once had this pid. */
const held = new Set<string>();

export class MailSpool {
  readonly #layout: QueueLayout;
  readonly #leaseSeconds: number;
  readonly #self: ProcessIdentity;
  #ready: Promise<void> | undefined;

  constructor(layout: QueueLayout, options: { leaseSeconds: number; self?: ProcessIdentity }) {
    this.#layout = layout;
    this.#leaseSeconds = options.leaseSeconds;
    this.#self = options.self ?? currentProcess();
  }

  directory(place: SpoolPlace): string {
    return place === 'waiting' ? this.#layout.mailSpool : this.#layout.mailSpoolFailed;
  }

  /** The messages in a place, oldest first. */
  async names(place: SpoolPlace): Promise<string[]> {
    return (await namesIn(this.directory(place))).filter((name) => NAME.test(name)).sort();
  }

  /** A message's facts, reading only the head of its file. */
  async readHead(place: SpoolPlace, name: string): Promise<SpooledMail> {
    return readHeadAt(join(this.directory(place), name));
  }

  /** Writes a new message as this process's claim, for its first attempt. */
  async storeClaimed(mail: SpooledMail, raw: Buffer): Promise<SpoolClaim> {
    await this.#ensureDirectories();
    const name = spoolName(mail.created);
    const path = this.#claimPath(name);
    held.add(path);
    try {
      await writeContentAtomic(path, formatSpoolFile(mail, raw));
    } catch (error) {
      held.delete(path);
      throw error;
    }
    return { name, path, origin: 'waiting' };
  }

  /** Writes a new message as waiting, not to be tried before its Next-Attempt; returns its path. */
  async storeWaiting(mail: SpooledMail, raw: Buffer): Promise<string> {
    await this.#ensureDirectories();
    const path = join(this.#layout.mailSpool, spoolName(mail.created));
    await writeContentAtomic(path, formatSpoolFile(mail, raw));
    return path;
  }

  /** Claims a message; undefined when another process took it (or it moved) first. */
  async claim(place: SpoolPlace, name: string): Promise<SpoolClaim | undefined> {
    const path = this.#claimPath(name);
    held.add(path);
    try {
      await rename(join(this.directory(place), name), path);
    } catch (error) {
      held.delete(path);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    // The claim's age is what another host judges it by: rename keeps the old mtime.
    const now = new Date();
    await utimes(path, now, now);
    return { name, path, origin: place };
  }

  /** The facts and bytes of a claimed message. */
  async read(claim: SpoolClaim): Promise<{ mail: SpooledMail; raw: Buffer }> {
    return parseSpoolFile(await readFile(claim.path), claim.path);
  }

  /** Drops a message every recipient has taken. */
  async finish(claim: SpoolClaim): Promise<void> {
    await this.#dropClaim(claim);
  }

  /** Keeps a message for another attempt, with its new facts; returns its waiting path. */
  async defer(claim: SpoolClaim, mail: SpooledMail, raw: Buffer): Promise<string> {
    return this.#settle(claim, 'waiting', mail, raw);
  }

  /** Keeps a message that will not be sent in failed/, with the reason; returns its path there. */
  async giveUp(claim: SpoolClaim, mail: SpooledMail, raw: Buffer): Promise<string> {
    return this.#settle(claim, 'failed', mail, raw);
  }

  /** Puts a claimed message back unchanged (not due after all, or the attempt was cancelled). */
  async release(claim: SpoolClaim): Promise<void> {
    const directory = this.directory(claim.origin);
    await rename(claim.path, join(directory, claim.name));
    held.delete(claim.path);
    await syncDirectory(directory);
  }

  /**
   * Gives back the claims of processes that are gone (see the top of this
   * file) and removes temporary files older than the lease; returns the names
   * of the messages given back.
   */
  async recover(now = new Date()): Promise<string[]> {
    const claims = this.#layout.mailSpoolClaims;
    const claimNames = await namesIn(claims);
    const returned: string[] = [];
    for (const claimName of claimNames) {
      const match = CLAIM.exec(claimName);
      if (!match || !NAME.test(match[1] ?? '')) continue;
      const [, name = '', host = '', pid = '0'] = match;
      const path = join(claims, claimName);
      if (!(await this.#isStale({ host, pid: Number(pid) }, path, now))) continue;
      const newer =
        claimNames.some((other) => other !== claimName && other.startsWith(`${name}@`)) ||
        (await pathExists(join(this.#layout.mailSpool, name))) ||
        (await pathExists(join(this.#layout.mailSpoolFailed, name)));
      try {
        if (newer) await unlink(path);
        else await rename(path, join(this.#layout.mailSpool, name));
      } catch (error) {
        // Another process recovered it first.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (!newer) returned.push(name);
    }
    for (const directory of [this.#layout.mailSpool, claims, this.#layout.mailSpoolFailed]) {
      await this.#removeOldTemporaries(directory, now);
    }
    return returned;
  }

  /** Every message, waiting, being sent and failed, oldest first in each state. */
  async list(): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = [];
    const add = async (state: SpoolEntry['state'], name: string, read: () => Promise<SpooledMail>, owner?: ProcessIdentity) => {
      try {
        entries.push({ name, state, mail: await read(), ...(owner ? { owner } : {}) });
      } catch (error) {
        // Sent or moved while listing: no longer there to show.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        entries.push({ name, state, problem: error instanceof Error ? error.message : String(error), ...(owner ? { owner } : {}) });
      }
    };
    for (const name of await this.names('waiting')) await add('waiting', name, () => this.readHead('waiting', name));
    for (const claimName of (await namesIn(this.#layout.mailSpoolClaims)).sort()) {
      const match = CLAIM.exec(claimName);
      if (!match || !NAME.test(match[1] ?? '')) continue;
      const [, name = '', host = '', pid = '0'] = match;
      const path = join(this.#layout.mailSpoolClaims, claimName);
      await add('sending', name, () => readHeadAt(path), { host, pid: Number(pid) });
    }
    for (const name of await this.names('failed')) await add('failed', name, () => this.readHead('failed', name));
    return entries;
  }

  #claimPath(name: string): string {
    return join(this.#layout.mailSpoolClaims, `${name}@${this.#self.host}@${this.#self.pid}`);
  }

  async #settle(claim: SpoolClaim, place: SpoolPlace, mail: SpooledMail, raw: Buffer): Promise<string> {
    const path = join(this.directory(place), claim.name);
    await writeContentAtomic(path, formatSpoolFile(mail, raw));
    await this.#dropClaim(claim);
    return path;
  }

  async #dropClaim(claim: SpoolClaim): Promise<void> {
    await unlink(claim.path);
    held.delete(claim.path);
    await syncDirectory(this.#layout.mailSpoolClaims);
  }

  async #isStale(owner: ProcessIdentity, path: string, now: Date): Promise<boolean> {
    if (owner.host === this.#self.host) {
      if (owner.pid === this.#self.pid) return !held.has(path);
      return !isProcessAlive(owner.pid);
    }
    const claimed = await stat(path).then((stats) => stats.mtimeMs, () => undefined);
    return claimed !== undefined && now.getTime() - claimed > this.#leaseSeconds * 1000;
  }

  async #removeOldTemporaries(directory: string, now: Date): Promise<void> {
    for (const name of await namesIn(directory)) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const path = join(directory, name);
      const modified = await stat(path).then((stats) => stats.mtimeMs, () => undefined);
      // Left by a process killed while writing: an atomic write takes milliseconds, not a lease.
      if (modified !== undefined && now.getTime() - modified > this.#leaseSeconds * 1000) await unlink(path).catch(() => undefined);
    }
  }

  #ensureDirectories(): Promise<void> {
    // opkfarm init makes them; a root made before the spool existed gets them on first use.
    this.#ready ??= (async () => {
      for (const directory of [this.#layout.mailSpool, this.#layout.mailSpoolClaims, this.#layout.mailSpoolFailed]) {
        await mkdir(directory, { recursive: true });
      }
    })();
    return this.#ready;
  }
}

/** Counts the spool's messages by their names alone, for the health check. */
export async function spoolStatus(layout: QueueLayout, now = new Date()): Promise<SpoolStatus> {
  const waiting = (await namesIn(layout.mailSpool)).filter((name) => NAME.test(name));
  const sending = (await namesIn(layout.mailSpoolClaims))
    .map((claim) => CLAIM.exec(claim)?.[1] ?? '')
    .filter((name) => NAME.test(name));
  const failed = (await namesIn(layout.mailSpoolFailed)).filter((name) => NAME.test(name));
  const created = [...waiting, ...sending].map(createdOf).filter((time) => time !== undefined);
  const oldest = created.length === 0 ? undefined : Math.min(...created.map((time) => time.getTime()));
  return {
    waiting: waiting.length + sending.length,
    failed: failed.length,
    oldestSeconds: oldest === undefined ? undefined : Math.max(0, (now.getTime() - oldest) / 1000),
  };
}

/** `<created>-<random>.mail`: sorting names sorts messages by age. */
function spoolName(created: Date): string {
  return `${created.toISOString().replace(/[-:.]/g, '')}-${randomBytes(8).toString('hex')}.mail`;
}

/** The creation time a name carries. */
function createdOf(name: string): Date | undefined {
  const stamp = NAME.exec(name)?.[1];
  if (stamp === undefined) return undefined;
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

async function readHeadAt(path: string): Promise<SpooledMail> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(MAX_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, MAX_HEAD_BYTES, 0);
    return parseSpoolHead(head.subarray(0, bytesRead), path);
  } finally {
    await handle.close();
  }
}

async function namesIn(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
