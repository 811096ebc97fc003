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
  /** Its formatted index stanza in this feed. */
  readonly text: string;
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
    group.chosen.set(offer.package, {
      package: offer.package,
      version: offer.version,
      build: offer.build,
      pool: offer.pool,
      section: offer.section,
      text: offer.text,
    });
  }

  /** Makes sure a section feed exists (an existing feed directory), empty unless a package is chosen there. */
  keepSection(distribution: string, architecture: string, platform: string, section: string): void {
    this.#group(distribution, architecture, platform).sections.add(section);
  }

  /** Every feed, sorted by archive-relative directory, its text made as it is asked for (one whole feed in memory at a time). */
  *feeds(): Generator<readonly [string, SelectedFeed], void, undefined> {
    const sections = new Map<string, { group: Group; section: string }>();
    for (const group of this.#groups.values()) {
      for (const section of group.sections) sections.set(feedPath(group.distribution, group.architecture, group.platform, section), { group, section });
    }
    for (const feed of [...sections.keys()].sort(byteOrder)) {
      const { group, section } = sections.get(feed) as { group: Group; section: string };
      const chosen = [...group.chosen.values()].filter((stanza) => stanza.section === section);
      yield [feed, { text: packagesText(chosen), packages: chosen.length }];
    }
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
  return compareVersions(offer.version, current.version) || offer.build - current.build || byteOrder(offer.pool, current.pool);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
