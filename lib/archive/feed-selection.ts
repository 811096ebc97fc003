/**
 * What the dev feeds list when they are made from the pool alone (reindex):
 * per distribution, architecture/platform group and package, the highest
 * version, then the highest build, which is what inclusion leaves indexed
 * (include.ts: an older version is superseded, a same version replaces).
 * One stanza per package and group, in the section of the chosen package.
 *
 * A section that a package of the group was ever in keeps its feed, empty
 * when nothing is chosen there any more: inclusion rewrites the section a
 * package leaves as an empty Packages rather than removing it.
 */
import { feedGroupPath, feedPath } from './paths.js';
import { packagesText, type FormattedStanza } from './feeds.js';
import { compareVersions } from '../formats/version.js';

/** A pool file offered for one feed group. */
export interface Offer {
  readonly distribution: string;
  readonly architecture: string;
  readonly platform: string;
  readonly section: string;
  readonly package: string;
  readonly version: string;
  readonly build: number;
  /** Archive-relative pool path. */
  readonly pool: string;
  /** The formatted index stanza for the feed directory `feed` (archive-relative); asked only of an offer that wins so far. */
  readonly stanza: (feed: string) => string;
}

/** One feed as the selection makes it. */
export interface SelectedFeed {
  /** The Packages text. */
  readonly text: string;
  readonly packages: number;
}

interface Chosen extends FormattedStanza {
  readonly version: string;
  readonly build: number;
  readonly pool: string;
  readonly section: string;
}

interface Group {
  readonly distribution: string;
  readonly architecture: string;
  readonly platform: string;
  readonly sections: Set<string>;
  readonly chosen: Map<string, Chosen>;
}

export class FeedSelection {
  readonly #groups = new Map<string, Group>();

  /** Considers a pool file for its group; keeps it when it is newer than the package's choice so far. */
  offer(offer: Offer): void {
    const group = this.#group(offer.distribution, offer.architecture, offer.platform);
    group.sections.add(offer.section);
    const current = group.chosen.get(offer.package);
    if (current !== undefined && compareChoice(offer, current) <= 0) return;
    const feed = feedPath(offer.distribution, offer.architecture, offer.platform, offer.section);
    group.chosen.set(offer.package, {
      package: offer.package,
      version: offer.version,
      build: offer.build,
      pool: offer.pool,
      section: offer.section,
      text: offer.stanza(feed),
    });
  }

  /** Makes sure a section feed exists (an existing feed directory), empty unless a package is chosen there. */
  keepSection(distribution: string, architecture: string, platform: string, section: string): void {
    this.#group(distribution, architecture, platform).sections.add(section);
  }

  /** Every feed by archive-relative directory, sorted. */
  feeds(): Map<string, SelectedFeed> {
    const feeds = new Map<string, SelectedFeed>();
    for (const group of this.#groups.values()) {
      const bySection = new Map<string, Chosen[]>([...group.sections].map((section) => [section, []]));
      for (const chosen of group.chosen.values()) bySection.get(chosen.section)?.push(chosen);
      for (const [section, chosen] of bySection) {
        const feed = feedPath(group.distribution, group.architecture, group.platform, section);
        feeds.set(feed, { text: packagesText(chosen), packages: chosen.length });
      }
    }
    return new Map([...feeds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  #group(distribution: string, architecture: string, platform: string): Group {
    const key = feedGroupPath(distribution, architecture, platform);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = { distribution, architecture, platform, sections: new Set(), chosen: new Map() };
      this.#groups.set(key, group);
    }
    return group;
  }
}

/** Version, then build; the pool path only breaks ties between files no inclusion would leave side by side. */
function compareChoice(offer: Offer, current: Chosen): number {
  return compareVersions(offer.version, current.version) || offer.build - current.build || (offer.pool < current.pool ? -1 : offer.pool > current.pool ? 1 : 0);
}
