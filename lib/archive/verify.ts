/**
 * `opkfarm archive verify`: whether the archive is what its indexes say.
 * Reading only, without the lock (readers never need it: indexes are
 * replaced whole, pool files never rewritten).
 *
 * Problems, one line each (findings.ts):
 * - feeds: every directory under feeds/ holding a Packages or Packages.gz,
 *   dev and rel suites alike, has both; Packages.gz decompresses to exactly
 *   Packages; Packages parses, and lists each package once;
 * - stanzas: the index fields are there; Filename, resolved from the feed
 *   directory, names a file in the pool; the file has the listed Size,
 *   MD5Sum and SHA256sum; every control field of the package is in the
 *   stanza with the same value, and the stanza has no field but those and
 *   the index fields;
 * - pool files an index lists: they pass scanOpk's checks (readOpk's) and
 *   fit their names (check-package.ts pooledControlProblem);
 * - the pool: every name is one paths.ts makes, and no temporary (`.tmp-`)
 *   under pool/ or feeds/ is older than TEMPORARY_GRACE_MS.
 * Notes, not problems: pool files no index lists (gc keeps old builds for a
 * grace period), and younger temporaries (a writer at work).
 *
 * A writer replaces Packages.gz, then Packages: a pair that disagrees is
 * read again once, after a pause, before it is reported. Each pool file is
 * read once, however many suites list it.
 */
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { EnvironmentError, FormatError } from '../errors.js';
import { formatStanza, parseControl, parseSingleStanza, type Stanza } from '../formats/control.js';
import { digestFile, type FileDigests } from '../fs/hash.js';
import { TEMP_PREFIX } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { scanOpk } from '../opk/scan.js';
import { pooledControlProblem } from './check-package.js';
import { INDEX_FIELDS, isIndexField } from './feeds.js';
import type { Finding } from './findings.js';
import { inArchive, parsePoolFileName } from './paths.js';
import { listPool } from './pool-listing.js';

export interface VerifyReport {
  readonly problems: Finding[];
  readonly notes: Finding[];
  readonly checked: {
    readonly feeds: number;
    readonly stanzas: number;
    /** Files in the pool. */
    readonly poolFiles: number;
    /** Pool files read (those some index lists). */
    readonly packages: number;
  };
}

/** A temporary older than this is a crash's leftover: no writer keeps one that long. */
export const TEMPORARY_GRACE_MS = 60_000;
/** How long to wait before reading a disagreeing Packages/Packages.gz pair again. */
const REREAD_PAUSE_MS = 100;

/** Verifies the archive of `layout`; see the file comment. */
export async function verifyArchive(layout: QueueLayout): Promise<VerifyReport> {
  return new Verification(layout).run();
}

/**
 * What a pool file is, read once. The control fields are kept as text and
 * parsed again for each stanza listing the file: tens of thousands of
 * parsed stanzas held at once cost ten times the memory.
 */
type PoolRead =
  | { readonly state: 'missing' }
  | { readonly state: 'read'; readonly controlText: string | undefined; readonly digests: FileDigests | undefined };

/** The fields a stanza cannot do without. */
const REQUIRED = ['Package', 'Version', ...INDEX_FIELDS] as const;

class Verification {
  readonly #problems: Finding[] = [];
  readonly #notes: Finding[] = [];
  readonly #pool = new Map<string, Promise<PoolRead>>();
  readonly #temporaries: string[] = [];
  #feeds = 0;
  #stanzas = 0;
  #read = 0;

  constructor(private readonly layout: QueueLayout) {}

  async run(): Promise<VerifyReport> {
    for (const feed of await this.#findFeeds('feeds')) await this.#checkFeed(feed);
    const listing = await listPool(this.layout);
    this.#problems.push(...listing.strays);
    for (const file of listing.files) {
      if (!this.#pool.has(file.path)) this.#note(file.path, 'listed by no index (gc collects it once its grace period is over)');
    }
    for (const temporary of [...listing.temporaries, ...this.#temporaries].sort()) await this.#checkTemporary(temporary);
    return {
      problems: this.#problems,
      notes: this.#notes,
      checked: { feeds: this.#feeds, stanzas: this.#stanzas, poolFiles: listing.files.length, packages: this.#read },
    };
  }

  /** Directories under `relative` holding a Packages or Packages.gz, sorted; temporaries found on the way are kept. */
  async #findFeeds(relative: string): Promise<string[]> {
    const entries = await readdir(inArchive(this.layout, relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const feeds: string[] = [];
    if (entries.some((entry) => entry.name === 'Packages' || entry.name === 'Packages.gz')) feeds.push(relative);
    for (const entry of entries.sort((a, b) => byteOrder(a.name, b.name))) {
      const path = posix.join(relative, entry.name);
      if (entry.name.startsWith(TEMP_PREFIX)) this.#temporaries.push(path);
      else if (entry.isDirectory()) feeds.push(...(await this.#findFeeds(path)));
    }
    return feeds;
  }

  async #checkFeed(feed: string): Promise<void> {
    this.#feeds += 1;
    const index = posix.join(feed, 'Packages');
    let pair = await this.#readPair(feed);
    if (pair.agree === false) {
      await sleep(REREAD_PAUSE_MS);
      pair = await this.#readPair(feed);
    }
    if (pair.packages === undefined) {
      this.#problem(index, 'missing (Packages.gz is there)');
      return;
    }
    if (pair.gzProblem !== undefined) this.#problem(`${index}.gz`, pair.gzProblem);
    let stanzas: Stanza[];
    try {
      stanzas = parseControl(new TextDecoder('utf-8', { fatal: true }).decode(pair.packages), { file: index });
    } catch (error) {
      if (error instanceof FormatError) this.#problems.push({ file: error.line === undefined ? index : `${index}:${error.line}`, problem: error.detail });
      else if (error instanceof TypeError) this.#problem(index, 'not valid UTF-8');
      else throw error;
      return;
    }
    const seen = new Map<string, number | undefined>();
    for (const stanza of stanzas) await this.#checkStanza(feed, index, stanza, seen);
  }

  /** Packages and Packages.gz of a feed, and whether they agree (undefined when one is missing). */
  async #readPair(feed: string): Promise<{ packages: Buffer | undefined; agree: boolean | undefined; gzProblem: string | undefined }> {
    const read = (name: string) =>
      readFile(inArchive(this.layout, posix.join(feed, name))).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
    const gz = await read('Packages.gz');
    const packages = await read('Packages');
    if (packages === undefined || gz === undefined) {
      return { packages, agree: undefined, gzProblem: gz === undefined ? 'missing (Packages is there)' : undefined };
    }
    let inflated: Buffer;
    try {
      inflated = gunzipSync(gz);
    } catch (error) {
      return { packages, agree: false, gzProblem: `cannot be decompressed: ${(error as Error).message}` };
    }
    const agree = inflated.equals(packages);
    return { packages, agree, gzProblem: agree ? undefined : 'does not decompress to Packages' };
  }

  async #checkStanza(feed: string, index: string, stanza: Stanza, seen: Map<string, number | undefined>): Promise<void> {
    this.#stanzas += 1;
    const pkg = stanza.get('Package');
    const line = stanza.lineOf(stanza.names()[0] ?? 'Package');
    const label = pkg ?? `the stanza at line ${line ?? '?'}`;
    const problem = (text: string) => this.#problem(index, `${label}: ${text}`);
    for (const field of REQUIRED) if (!stanza.has(field)) problem(`no ${field} field`);
    if (pkg !== undefined) {
      if (seen.has(pkg)) problem(`listed again at line ${line ?? '?'} (first at line ${seen.get(pkg) ?? '?'})`);
      else seen.set(pkg, line);
    }
    const filename = stanza.get('Filename');
    if (filename === undefined) return;
    const pool = posix.normalize(posix.join(feed, filename));
    if (filename.startsWith('/') || !pool.startsWith('pool/')) {
      problem(`Filename ${quote(filename)} is not in the pool`);
      return;
    }
    const read = await this.#readPool(pool);
    if (read.state === 'missing') {
      problem(`${pool} does not exist`);
      return;
    }
    if (read.digests !== undefined) {
      const { size, md5, sha256 } = read.digests;
      for (const [field, actual, what] of [
        ['Size', String(size), `has ${size} bytes`],
        ['MD5Sum', md5, `has MD5 ${md5}`],
        ['SHA256sum', sha256, `has SHA-256 ${sha256}`],
      ] as const) {
        const listed = stanza.get(field);
        if (listed !== undefined && listed !== actual) problem(`${field} ${quote(listed)} but ${pool} ${what}`);
      }
    }
    if (read.controlText !== undefined) {
      const control = parseSingleStanza(read.controlText, { file: pool });
      for (const text of controlDifferences(stanza, control, pool)) problem(text);
    }
  }

  /** Reads a pool file once: its digests and control, reporting what is wrong with it. */
  #readPool(pool: string): Promise<PoolRead> {
    let read = this.#pool.get(pool);
    if (read === undefined) {
      read = this.#readPoolFile(pool);
      this.#pool.set(pool, read);
    }
    return read;
  }

  async #readPoolFile(pool: string): Promise<PoolRead> {
    const path = inArchive(this.layout, pool);
    const stats = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (stats === undefined) return { state: 'missing' };
    this.#read += 1;
    if (!stats.isFile()) {
      this.#problem(pool, 'not a regular file');
      return { state: 'read', controlText: undefined, digests: undefined };
    }
    try {
      const { control, digests } = await scanOpk(path);
      const name = parsePoolFileName(posix.basename(pool));
      const misfit = name === undefined ? undefined : pooledControlProblem(control, name, posix.basename(posix.dirname(pool)));
      if (misfit !== undefined) this.#problem(pool, misfit);
      return { state: 'read', controlText: this.#controlText(control, pool), digests };
    } catch (error) {
      if (!(error instanceof FormatError || error instanceof EnvironmentError)) throw error;
      const message = error.message.split(path).join(pool);
      this.#problem(pool, message.startsWith(`${pool}: `) ? message.slice(pool.length + 2) : message);
      return { state: 'read', controlText: undefined, digests: await digestFile(path).catch(() => undefined) };
    }
  }

  /** The control as text, or undefined (and a problem) when it cannot be written, as an index would need. */
  #controlText(control: Stanza, pool: string): string | undefined {
    try {
      return formatStanza(control);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      this.#problem(pool, `the control file cannot be written into an index: ${error.detail}`);
      return undefined;
    }
  }

  async #checkTemporary(path: string): Promise<void> {
    const stats = await stat(inArchive(this.layout, path)).catch(() => undefined);
    if (stats === undefined) return; // gone since: a write finished
    if (Date.now() - stats.mtimeMs > TEMPORARY_GRACE_MS) {
      this.#problem(path, `a temporary left behind (older than ${TEMPORARY_GRACE_MS / 1000} s: no writer takes that long); delete it`);
    } else this.#note(path, 'a temporary: a write in progress, or a crash just now (a problem once it is a minute old)');
  }

  #problem(file: string, problem: string): void {
    this.#problems.push({ file, problem });
  }

  #note(file: string, note: string): void {
    this.#notes.push({ file, problem: note });
  }
}

/** How an index stanza departs from the control of the package it lists, one line each. */
function controlDifferences(stanza: Stanza, control: Stanza, pool: string): string[] {
  const differences: string[] = [];
  for (const [name, value] of control.entries()) {
    if (isIndexField(name)) continue;
    const indexed = stanza.get(name);
    if (indexed === undefined) differences.push(`no ${name} field, which ${pool} has (${quote(value)})`);
    else if (indexed !== value) differences.push(`${name} ${quote(indexed)} but ${pool} says ${quote(value)}`);
  }
  for (const [name] of stanza.entries()) {
    if (!isIndexField(name) && !control.has(name)) differences.push(`field ${name} is not in the control of ${pool}`);
  }
  return differences;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
