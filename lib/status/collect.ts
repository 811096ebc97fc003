/**
 * What the status page shows, read from the queue root alone: every upload
 * the farm knows of, and for each architecture/platform its state.
 *
 *   waiting    in a build queue (accepted, not taken yet)
 *   building   claimed by a buildd
 *   built      its result is in archive-queue/<key>/ (ok), not yet included
 *   failed     its result says failed (in the archive queue or stored)
 *   installed  included: its stored result says ok
 *
 * plus uploads in incoming/ waiting for review, and the build queues with
 * their depth and oldest entry. Included uploads are the `recent` newest
 * keys of archive/logs/, so the page stays small on a large archive.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FarmConfig } from '../config.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { inArchive, logDirectory } from '../archive/paths.js';
import { listClaims, pendingKeys } from '../queue/claims.js';
import { listIncoming } from '../queue/incoming.js';

export type BuildState = 'waiting' | 'building' | 'built' | 'failed' | 'installed';

export interface BuildStatus {
  readonly architecture: string;
  readonly platform: string;
  readonly state: BuildState;
  /** Archive-relative path of the build log, once stored. */
  readonly log?: string;
  /** The queue or host, for waiting and building. */
  readonly where?: string;
}

export interface UploadStatus {
  readonly key: string;
  readonly source: string;
  readonly version: string;
  readonly builds: readonly BuildStatus[];
}

export interface QueueStatus {
  readonly name: string;
  readonly architectures: readonly string[];
  readonly waiting: number;
  readonly building: number;
  /** Seconds the oldest entry has waited; 0 when empty. */
  readonly oldestSeconds: number;
}

export interface FarmStatus {
  readonly farm: string;
  readonly generatedAt: string;
  /** Uploads in incoming/: name, state (complete, incomplete, invalid). */
  readonly incoming: readonly { readonly name: string; readonly state: string }[];
  readonly queues: readonly QueueStatus[];
  /** Newest first. */
  readonly uploads: readonly UploadStatus[];
}

const RESULT = /^(\d+_[^_]+_[^_]+)_([^_]+)_([^_]+)\.result$/;

export async function collectStatus(layout: QueueLayout, config: FarmConfig, now: Date = new Date(), recent = 200): Promise<FarmStatus> {
  const uploads = new Map<string, Map<string, BuildStatus>>();
  const put = (key: string, build: BuildStatus) => {
    let builds = uploads.get(key);
    if (builds === undefined) {
      builds = new Map<string, BuildStatus>();
      uploads.set(key, builds);
    }
    const id = `${build.architecture}_${build.platform}`;
    // A later stage wins: installed over built over building over waiting.
    const known = builds.get(id);
    if (known === undefined || STAGE[build.state] >= STAGE[known.state]) builds.set(id, build);
  };

  const queues: QueueStatus[] = [];
  for (const queue of config.queues) {
    const keys = await pendingKeys(layout, queue.name);
    const claims = await listClaims(layout, queue.name);
    let oldest = 0;
    for (const key of keys) {
      for (const architecture of queue.architectures) put(key, { architecture, platform: 'all', state: 'waiting', where: queue.name });
      const mtime = (await lstat(layout.buildQueueEntry(queue.name, key)).catch(() => undefined))?.mtimeMs;
      if (mtime !== undefined) oldest = Math.max(oldest, (now.getTime() - mtime) / 1000);
    }
    for (const claim of claims) {
      for (const architecture of queue.architectures) {
        put(claim.key, { architecture, platform: 'all', state: 'building', where: `${claim.owner.host} (${queue.name})` });
      }
    }
    queues.push({ name: queue.name, architectures: queue.architectures, waiting: keys.length, building: claims.length, oldestSeconds: oldest });
  }

  for (const key of (await namesIn(layout.archiveQueue)).filter((name) => parseUploadKey(name))) {
    for (const name of await namesIn(layout.archiveQueueEntry(key))) {
      const match = /^([^_]+)_([^_]+)\.result$/.exec(name);
      if (!match) continue;
      const failed = /^Status: failed$/m.test(await readFile(join(layout.archiveQueueEntry(key), name), 'utf8').catch(() => ''));
      put(key, { architecture: match[1] as string, platform: match[2] as string, state: failed ? 'failed' : 'built' });
    }
  }

  const logs = join(layout.archive, 'logs');
  const stored: { key: string; source: string; name: string }[] = [];
  for (const source of await namesIn(logs)) {
    for (const name of await namesIn(join(logs, source))) {
      const key = RESULT.exec(name)?.[1];
      if (key !== undefined) stored.push({ key, source, name });
    }
  }
  const recentKeys = new Set([...new Set(stored.map((entry) => entry.key))].sort().reverse().slice(0, recent));
  for (const { key, source, name } of stored) {
    if (!recentKeys.has(key)) continue;
    const match = RESULT.exec(name) as RegExpExecArray;
    const text = await readFile(inArchive(layout, `${logDirectory(source)}/${name}`), 'utf8').catch(() => '');
    const failed = /^Status: failed$/m.test(text);
    put(key, {
      architecture: match[2] as string,
      platform: match[3] as string,
      state: failed ? 'failed' : 'installed',
      log: `${logDirectory(source)}/${name.replace(/\.result$/, '.log')}`,
    });
  }

  const incoming = (await listIncoming(layout)).map((upload) => ({
    name: `${upload.source ?? '?'} ${upload.version ?? '?'}`,
    state: upload.check.state,
  }));
  return {
    farm: config.name,
    generatedAt: now.toISOString(),
    incoming,
    queues,
    uploads: [...uploads]
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
      .map(([key, builds]) => {
        const parsed = parseUploadKey(key);
        return {
          key,
          source: parsed?.source ?? key,
          version: parsed?.version ?? '',
          builds: [...builds.values()].sort((a, b) => (a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0)),
        };
      }),
  };
}

const STAGE: Readonly<Record<BuildState, number>> = { waiting: 0, building: 1, built: 2, failed: 3, installed: 3 };

async function namesIn(directory: string): Promise<string[]> {
  return (await readdir(directory).catch(() => [] as string[])).sort();
}
