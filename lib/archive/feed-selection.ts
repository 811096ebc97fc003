/**
 * What the dev feeds list when they are made from the pool alone (reindex):
 * per distribution, architecture/platform group and package, the highest
 * version, then the highest build, which is what inclusion leaves indexed
 * (include.ts: an older version is superseded, a same version replaces).
 * One stanza per package and group, in the section of the chosen package.
 * Chosen stanzas wait in a TextArena until the feeds are written.
 *
 * A section that a package of the group was ever in keeps its feed, empty
 * when nothing is chosen there any more: inclusion rewrites the section a
 * package leaves as an empty Packages rather than removing it.
 */
import { compareVersions } from '../formats/version.js';
import { fieldValue } from './feed-section.js';
import { gzipPackages } from './packages-gz.js';
import { feedGroupPath, feedPath } from './paths.js';
import { TextArena } from './text-arena.js';

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
  /** The Packages file. */
  readonly packages: Buffer;
  /** The Packages.gz. */
  readonly gz: Buffer;
  /** Stanzas in it. */
  readonly stanzas: number;
}

const BLANK_LINE = Buffer.from('\n');

interface Group {
  readonly distribution: string;
  readonly architecture: string;
  readonly platform: string;
  readonly sections: Set<string>;
  /** Package → its choice so far (a row of Choices). */
  readonly chosen: Map<string, number>;
}

/** The choice for a package so far, but for its stanza (Choices.text). */
interface Chosen {
  readonly version: string;
  readonly build: number;
  readonly section: string;
}

/**
 * The choices as rows of typed columns, their texts (stanza and version) in
 * an arena: an object and strings per choice, all kept to the end, made the
 * main thread's heap and young generation grow to their largest.
 */
class Choices {
  readonly #texts = new TextArena();
  readonly #sections: string[] = [];
  readonly #sectionIds = new Map<string, number>();
  /** Per row: stanza block, start, end; version block, start, end; build; section id. */
  #columns = new Int32Array(8 * 1024);
  #rows = 0;

  /** Stores a choice in row `row`, or in a new row; returns the row. */
  set(chosen: { text: string; version: string; build: number; section: string }, row = this.#rows): number {
    if (row === this.#rows) this.#grow();
    const text = this.#texts.add(chosen.text);
    const version = this.#texts.add(chosen.version);
    let section = this.#sectionIds.get(chosen.section);
    if (section === undefined) {
      section = this.#sections.push(chosen.section) - 1;
      this.#sectionIds.set(chosen.section, section);
    }
    this.#columns.set([text.block, text.start, text.end, version.block, version.start, version.end, chosen.build, section], row * 8);
    return row;
  }

  get(row: number): Chosen {
    const at = row * 8;
    const column = (i: number) => this.#columns[at + i] as number;
    return {
      version: this.#texts.get({ block: column(3), start: column(4), end: column(5) }).toString('utf8'),
      build: column(6),
      section: this.#sections[column(7)] as string,
    };
  }

  /** The section of a row's choice. */
  section(row: number): string {
    return this.#sections[this.#columns[row * 8 + 7] as number] as string;
  }

  /** The stanza bytes of a row's choice. */
  text(row: number): Buffer {
    const at = row * 8;
    return this.#texts.get({ block: this.#columns[at] as number, start: this.#columns[at + 1] as number, end: this.#columns[at + 2] as number });
  }

  #grow(): void {
    this.#rows += 1;
    if (this.#rows * 8 <= this.#columns.length) return;
    const larger = new Int32Array(this.#columns.length * 2);
    larger.set(this.#columns);
    this.#columns = larger;
  }
}

export class FeedSelection {
  readonly #groups = new Map<string, Group>();
  readonly #choices = new Choices();

  /** Considers a pool file for its group; keeps it when it is newer than the package's choice so far. */
  offer(offer: Offer): void {
    const group = this.#group(offer.distribution, offer.architecture, offer.platform);
    group.sections.add(offer.section);
    const current = group.chosen.get(offer.package);
    if (current !== undefined && this.#compareChoice(offer, current) <= 0) return;
    group.chosen.set(offer.package, this.#choices.set(offer, current));
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
      const chosen = [...group.chosen].filter(([, row]) => this.#choices.section(row) === section).sort(([a], [b]) => byteOrder(a, b));
      yield [feed, this.#feedFiles(chosen)];
    }
  }

  /** The Packages file (stanzas a blank line apart) and Packages.gz of sorted choices. */
  #feedFiles(chosen: ReadonlyArray<readonly [string, number]>): SelectedFeed {
    const pieces: Buffer[] = [];
    const offsets: number[] = [];
    let length = 0;
    for (const [, row] of chosen) {
      if (pieces.length > 0) {
        pieces.push(BLANK_LINE);
        length += 1;
      }
      const bytes = this.#choices.text(row);
      offsets.push(length);
      pieces.push(bytes);
      length += bytes.length;
    }
    const packages = Buffer.concat(pieces, length);
    return { packages, gz: gzipPackages(packages, chosen.map(([pkg]) => ({ package: pkg })), offsets), stanzas: chosen.length };
  }

  /** Version, then build; the pool file (by Filename) only breaks ties between files no inclusion would leave side by side. */
  #compareChoice(offer: Offer, row: number): number {
    const current = this.#choices.get(row);
    const byVersion = compareVersions(offer.version, current.version) || offer.build - current.build;
    if (byVersion !== 0) return byVersion;
    const filename = (text: string) => fieldValue(text, 'Filename') ?? '';
    return byteOrder(filename(offer.text), filename(this.#choices.text(row).toString('utf8')));
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

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
