/**
 * Pull-based reading of a byte stream for the archive readers (ar, tar).
 *
 * A ByteReader takes bytes from an async iterable as they are asked for, so
 * an archive is parsed while it streams: only the bytes of the header being
 * parsed are ever joined into one buffer. A Section hands a member's data to
 * the caller as a Readable and, when the caller moves on, skips whatever it
 * did not read. Reading never starts two pulls on the source at once.
 */
import { Readable } from 'node:stream';

/** The data of one archive member, read on demand from its ByteReader. */
export interface Section {
  /** The member's bytes; created on first use. Errors with the truncation error when the input ends early. */
  readonly body: Readable;
  /** Stops the body and skips what it did not read; throws the truncation error when the input ends first. */
  finish(): Promise<void>;
  /** Stops the body without reading further, for when the whole input is being abandoned. */
  abandon(): Promise<void>;
}

/** Reads exact amounts from a stream of chunks. One reader per stream; calls must not overlap. */
export class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  /** Unread chunks, oldest first. */
  #pending: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** Bytes consumed so far (peeked bytes not included). */
  get position(): number {
    return this.#position;
  }

  /** Up to `length` bytes from the current position, left unread. Shorter only at end of input. */
  async peek(length: number): Promise<Buffer> {
    await this.#fill(length);
    return Buffer.concat(this.#pending, Math.min(this.#buffered, length));
  }

  /** Exactly `length` bytes, or fewer when the input ends first. */
  async read(length: number): Promise<Buffer> {
    await this.#fill(length);
    return this.#take(Math.min(length, this.#buffered));
  }

  /** Between 1 and `max` bytes without joining chunks, or undefined at end of input. */
  async readSome(max: number): Promise<Buffer | undefined> {
    if (this.#buffered === 0) await this.#fill(1);
    const first = this.#pending[0];
    if (first === undefined || max <= 0) return undefined;
    return this.#take(Math.min(max, first.length));
  }

  /** Skips up to `length` bytes (Infinity: to the end); returns how many were skipped. */
  async skip(length: number): Promise<number> {
    let skipped = 0;
    while (skipped < length) {
      const chunk = await this.readSome(length - skipped);
      if (chunk === undefined) break;
      skipped += chunk.length;
    }
    return skipped;
  }

  /** Everything not read yet, chunk by chunk; the reader is closed when this ends or is returned. */
  async *rest(): AsyncGenerator<Buffer, void, undefined> {
    try {
      while (true) {
        const chunk = await this.readSome(Infinity);
        if (chunk === undefined) return;
        yield chunk;
      }
    } finally {
      await this.close();
    }
  }

  /** The next `size` bytes as a Section; `truncated` makes the error for input that ends first. */
  section(size: number, truncated: () => Error): Section {
    return new ReaderSection(this, size, truncated);
  }

  /** Stops reading: the source iterator is returned, which destroys a source stream. */
  async close(): Promise<void> {
    this.#pending = [];
    this.#buffered = 0;
    if (this.#ended) return;
    this.#ended = true;
    await this.#iterator.return?.();
  }

  async #fill(wanted: number): Promise<void> {
    while (this.#buffered < wanted && !this.#ended) {
      const next = await this.#iterator.next();
      if (next.done === true) {
        this.#ended = true;
        break;
      }
      const chunk = next.value;
      if (chunk.length === 0) continue;
      this.#pending.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#buffered += chunk.length;
    }
  }

  #take(length: number): Buffer {
    const first = this.#pending[0];
    let taken: Buffer;
    if (first !== undefined && first.length >= length) {
      taken = first.subarray(0, length);
      if (first.length === length) this.#pending.shift();
      else this.#pending[0] = first.subarray(length);
    } else {
      taken = Buffer.concat(this.#pending, length);
      let left = length;
      while (left > 0) {
        const chunk = this.#pending[0] as Buffer;
        if (chunk.length <= left) {
          this.#pending.shift();
          left -= chunk.length;
        } else {
          this.#pending[0] = chunk.subarray(left);
          left = 0;
        }
      }
    }
    this.#buffered -= length;
    this.#position += length;
    return taken;
  }
}

class ReaderSection implements Section {
  readonly #reader: ByteReader;
  readonly #truncated: () => Error;
  #remaining: number;
  #body: Readable | undefined;

  constructor(reader: ByteReader, size: number, truncated: () => Error) {
    this.#reader = reader;
    this.#remaining = size;
    this.#truncated = truncated;
  }

  get body(): Readable {
    this.#body ??= Readable.from(this.#pull(), { objectMode: false });
    return this.#body;
  }

  async finish(): Promise<void> {
    await this.abandon();
    this.#remaining -= await this.#reader.skip(this.#remaining);
    if (this.#remaining > 0) throw this.#truncated();
  }

  async abandon(): Promise<void> {
    const body = this.#body;
    if (body === undefined || body.closed) return;
    // Nobody reads the body any more, so its late errors have no one to tell.
    body.on('error', () => undefined);
    const closed = new Promise((resolve) => body.once('close', resolve));
    body.destroy();
    // Readable.from closes only once its generator has stopped, so no pull is left running.
    await closed;
  }

  async *#pull(): AsyncGenerator<Buffer, void, undefined> {
    while (this.#remaining > 0) {
      const chunk = await this.#reader.readSome(this.#remaining);
      if (chunk === undefined) throw this.#truncated();
      this.#remaining -= chunk.length;
      yield chunk;
    }
  }
}
