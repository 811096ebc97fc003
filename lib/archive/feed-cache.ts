/**
 * The feed groups an inclusion batch reads and writes (feeds.ts FeedGroup),
 * by distribution, architecture and platform, each loaded once per batch.
 * A daemon keeps one FeedCache across batches (InclusionOptions.feedCache):
 * a kept group is reused only when its Packages files are the ones it
 * wrote, so another writer's change (reindex, a second archived) is read.
 */
import type { QueueLayout } from '../layout.js';
import { buildName, type Build } from './build-result.js';
import { FeedGroup } from './feeds.js';

/** Feed groups by distribution, architecture and platform; see the file comment. */
export class FeedCache {
  readonly #groups = new Map<string, FeedGroup>();
  /** Groups read or checked against the disk in this batch. */
  readonly #current = new Set<FeedGroup>();

  constructor(private readonly layout: QueueLayout) {}

  beginBatch(): void {
    this.#current.clear();
  }

  clear(): void {
    this.#groups.clear();
    this.#current.clear();
  }

  async get(distribution: string, build: Build): Promise<FeedGroup> {
    const id = `${distribution}/${buildName(build)}`;
    let group = this.#groups.get(id);
    if (group !== undefined && !this.#current.has(group) && !(await group.isCurrent())) group = undefined;
    if (group === undefined) {
      group = await FeedGroup.load(this.layout, distribution, build.architecture, build.platform);
      this.#groups.set(id, group);
    }
    this.#current.add(group);
    return group;
  }

  /** Writes every group this batch used, side by side (FeedGroup.write); returns the feed directories written, by group. */
  async write(): Promise<Map<FeedGroup, string[]>> {
    const groups = [...this.#current];
    const written = await Promise.all(groups.map((group) => group.write()));
    return new Map(groups.map((group, i) => [group, written[i] as string[]]));
  }
}
