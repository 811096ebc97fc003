/**
 * Texts kept in large buffers outside the JavaScript heap: reindex holds the
 * stanza of every package it lists until it writes the feeds (30 MiB for
 * 55,000 packages); as strings they were half the main thread's live heap,
 * which the garbage collector then scanned and grew around.
 */
const BLOCK = 1024 * 1024;

/** Where a text is in an arena. */
export interface ArenaText {
  readonly block: number;
  readonly start: number;
  readonly end: number;
}

export class TextArena {
  readonly #blocks: Buffer[] = [];
  #used = BLOCK;

  /** Stores a text (as UTF-8); returns where it is. */
  add(text: string): ArenaText {
    const length = Buffer.byteLength(text, 'utf8');
    if (this.#used + length > BLOCK || this.#blocks.length === 0) {
      this.#blocks.push(Buffer.allocUnsafe(Math.max(BLOCK, length)));
      this.#used = 0;
    }
    const block = this.#blocks.length - 1;
    const start = this.#used;
    this.#used += (this.#blocks[block] as Buffer).write(text, start, 'utf8');
    return { block, start, end: this.#used };
  }

  /** The bytes of a stored text (a view into the arena). */
  get(where: ArenaText): Buffer {
    return (this.#blocks[where.block] as Buffer).subarray(where.start, where.end);
  }
}
