/**
 * The paths of a queue root (queues-layout/README.md). Every program builds
 * queue paths through this module only, so the layout is described once and
 * clean-up code, health checks and daemons agree on it.
 */
import { join } from 'node:path';
import { versionForFileName } from './formats/version.js';

/** Digits of the acceptance number in a key; ten digits sort correctly up to ten billion uploads. */
const SEQUENCE_DIGITS = 10;
const KEY = /^(\d{10})_([a-z0-9][a-z0-9+.-]+)_([A-Za-z0-9.+~:-]+)$/;

/** The key of an accepted upload: `<sequence>_<source>_<version without epoch>`. */
export function uploadKey(sequence: number, source: string, version: string): string {
  return `${String(sequence).padStart(SEQUENCE_DIGITS, '0')}_${source}_${versionForFileName(version)}`;
}

/** The parts of a key, or undefined for a name that is not one. */
export function parseUploadKey(key: string): { sequence: number; source: string; version: string } | undefined {
  const match = KEY.exec(key);
  if (!match) return undefined;
  return { sequence: Number(match[1]), source: match[2] as string, version: match[3] as string };
}

/** The directories and files of one queue root. */
export class QueueLayout {
  constructor(readonly root: string) {}

  get configFile(): string {
    return join(this.root, 'opkfarm.conf');
  }
  /**
   * The SFTP chroot: holds only incoming/. OpenSSH wants a chroot directory
   * (and its parents) owned by root and writable by no one else, so uploads
   * cannot land in it directly; a directory of its own also keeps the rest of
   * the queue root out of the uploaders' sight.
   */
  get uploads(): string {
    return join(this.root, 'uploads');
  }
  get incoming(): string {
    return join(this.uploads, 'incoming');
  }
  get master(): string {
    return join(this.root, 'queues', 'master');
  }
  get archByName(): string {
    return join(this.root, 'queues', 'arch');
  }
  get buildQueues(): string {
    return join(this.root, 'queues', 'buildd');
  }
  get archiveQueue(): string {
    return join(this.root, 'archive-queue');
  }
  get archive(): string {
    return join(this.root, 'archive');
  }
  get rejected(): string {
    return join(this.root, 'rejected');
  }
  get outbox(): string {
    return join(this.root, 'outbox');
  }
  /** Mail waiting for another attempt (lib/mail/spool.ts). */
  get mailSpool(): string {
    return join(this.root, 'mail-spool');
  }
  /** Spooled mail a process is sending: one name per claim, `<name>@<host>@<pid>`. */
  get mailSpoolClaims(): string {
    return join(this.mailSpool, 'claims');
  }
  /** Spooled mail refused for good or retried too often: kept with the reason, for an operator. */
  get mailSpoolFailed(): string {
    return join(this.mailSpool, 'failed');
  }
  get tmp(): string {
    return join(this.root, 'tmp');
  }
  get state(): string {
    return join(this.root, 'state');
  }
  get sequenceFile(): string {
    return join(this.state, 'sequence');
  }
  get heartbeats(): string {
    return join(this.state, 'heartbeats');
  }

  /** Every directory `init` creates, parents first. */
  directories(): string[] {
    return [
      this.uploads,
      this.incoming,
      join(this.root, 'queues'),
      this.master,
      this.archByName,
      this.buildQueues,
      this.archiveQueue,
      this.archive,
      join(this.archive, 'pool'),
      join(this.archive, 'feeds'),
      join(this.archive, 'logs'),
      this.rejected,
      this.outbox,
      this.mailSpool,
      this.mailSpoolClaims,
      this.mailSpoolFailed,
      this.tmp,
      this.state,
      this.heartbeats,
    ];
  }

  masterEntry(key: string): string {
    return join(this.master, `${key}.opk`);
  }
  masterChanges(key: string): string {
    return join(this.master, `${key}.changes`);
  }
  buildQueue(queue: string): string {
    return join(this.buildQueues, queue);
  }
  buildQueueEntry(queue: string, key: string): string {
    return join(this.buildQueue(queue), `${key}.opk`);
  }
  claims(queue: string): string {
    return join(this.buildQueue(queue), 'claims');
  }
  archiveQueueEntry(key: string): string {
    return join(this.archiveQueue, key);
  }
  rejectedEntry(key: string): string {
    return join(this.rejected, key);
  }
  archLink(architecture: string): string {
    return join(this.archByName, architecture);
  }
}
