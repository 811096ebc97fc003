/**
 * Safety of data archive entries: what opkg or tar would do with an entry
 * must stay inside the directory the package is installed into.
 *
 * Refused, as FormatError 'opk.unsafe-entry' naming the file, member and entry:
 * absolute paths; `..` components; device nodes, FIFOs and any other special
 * or unknown type; hard links whose target is absolute, has `..` or is not an
 * earlier entry; symlinks whose target leaves the package root (relative
 * targets resolve from the link's directory, absolute ones from the install
 * root, and symlinks met on the way are followed); entries whose path goes
 * through, or replaces, a symlink defined earlier (the classic tar symlink
 * attack). A leading "./" is ignored; "." and "./" name the root directory.
 *
 * The checker keeps the paths seen so far (to resolve hard links and
 * symlinks), not the data.
 */
import { FormatError } from '../errors.js';
import type { TarEntryType } from './tar-read.js';

/** The entry types a package may contain. */
export type SafeEntryType = 'file' | 'directory' | 'symlink' | 'link';

/** An entry as it comes from the archive. */
export interface EntryToCheck {
  readonly path: string;
  readonly type: TarEntryType;
  /** The raw tar type flag, for messages about unknown types. */
  readonly typeflag?: string;
  readonly linkTarget?: string;
}

/** An entry that passed: its path normalised (no "./", no trailing "/", "." for the root). */
export interface CheckedEntry {
  readonly path: string;
  readonly type: SafeEntryType;
  /** Symlinks: the target as stored. Hard links: the normalised path of the entry linked to. */
  readonly linkTarget?: string;
}

/** Where the entries come from, for messages. */
export interface SafetyContext {
  readonly file: string;
  /** The member holding the archive (e.g. "data.tar.xz"), when there is one. */
  readonly member?: string;
}

/** Symlink expansions after which resolution stops, as the kernel's ELOOP does. */
const MAX_SYMLINK_EXPANSIONS = 40;

const TYPE_NAMES: Readonly<Partial<Record<TarEntryType, string>>> = {
  'character-device': 'character device',
  'block-device': 'block device',
  fifo: 'FIFO',
};

/** Checks the entries of one archive, in archive order. */
export class EntryChecker {
  readonly #context: SafetyContext;
  /** Every path seen, with its type, for hard-link targets. */
  readonly #types = new Map<string, SafeEntryType>();
  /** Symlink path → target as stored. */
  readonly #symlinks = new Map<string, string>();

  constructor(context: SafetyContext) {
    this.#context = context;
  }

  /** Checks the next entry; throws FormatError 'opk.unsafe-entry' when it is unsafe. */
  check(entry: EntryToCheck): CheckedEntry {
    const refuse = (reason: string): FormatError => this.#error(entry.path, reason);
    const path = normalise(entry.path, refuse);
    const type = entry.type;
    if (type !== 'file' && type !== 'directory' && type !== 'symlink' && type !== 'link') {
      throw refuse(TYPE_NAMES[type] ?? `unsupported entry type ${JSON.stringify(entry.typeflag ?? type)}`);
    }
    if (path === '.') {
      if (type !== 'directory') throw refuse('the package root must be a directory');
      return { path, type };
    }

    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.#symlinks.has(prefix)) throw refuse(`path goes through symlink "${prefix}" defined earlier`);
    }
    if (this.#symlinks.has(path)) throw refuse('replaces a symlink defined earlier');

    let linkTarget: string | undefined;
    if (type === 'link') {
      const raw = entry.linkTarget ?? '';
      if (raw.startsWith('/')) throw refuse(`hard link to absolute path "${raw}"`);
      const target = normalise(raw, () => refuse(`hard link to "${raw}", which has a ".." component`));
      const targetType = this.#types.get(target);
      if (target === '.' || targetType === undefined || targetType === 'directory') {
        throw refuse(`hard link to "${raw}", which is not an earlier file in the archive`);
      }
      linkTarget = target;
    } else if (type === 'symlink') {
      linkTarget = entry.linkTarget ?? '';
      if (linkTarget === '') throw refuse('symlink with an empty target');
      this.#symlinks.set(path, linkTarget);
      if (!this.#staysInside(path)) {
        throw refuse(`symlink to "${linkTarget}" escapes the package root`);
      }
    }
    this.#types.set(path, type);
    return linkTarget === undefined ? { path, type } : { path, type, linkTarget };
  }

  /**
   * Checks what needs the whole archive: a symlink can escape through a
   * symlink that comes after it. Call once every entry has been checked.
   */
  finish(): void {
    for (const [path, target] of this.#symlinks) {
      if (!this.#staysInside(path)) throw this.#error(path, `symlink to "${target}" escapes the package root`);
    }
  }

  /** Whether following the symlink at `path` stays inside the root, given the symlinks known so far. */
  #staysInside(path: string): boolean {
    const stack: string[] = [];
    let queue = path.split('/');
    let expansions = 0;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length === 0) return false;
        stack.pop();
        continue;
      }
      stack.push(part);
      const target = this.#symlinks.get(stack.join('/'));
      if (target === undefined) continue;
      // A chain this long fails with ELOOP when followed, so it reaches nothing.
      if (++expansions > MAX_SYMLINK_EXPANSIONS) return true;
      stack.pop();
      if (target.startsWith('/')) stack.length = 0;
      queue = [...target.split('/'), ...queue];
    }
    return true;
  }

  #error(path: string, reason: string): FormatError {
    const where = this.#context.member === undefined ? '' : `${this.#context.member}: `;
    return new FormatError('opk.unsafe-entry', this.#context.file, `${where}entry "${path}": ${reason}`);
  }
}

/** "./usr//bin/" → "usr/bin"; "./" → "."; refuses absolute paths and ".." components. */
function normalise(raw: string, refuse: (reason: string) => FormatError): string {
  if (raw.startsWith('/')) throw refuse('absolute path');
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw refuse('path has a ".." component');
  return parts.length === 0 ? '.' : parts.join('/');
}
