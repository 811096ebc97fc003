/**
 * A status line that updates in place on a terminal (`reindex: 120/5000
 * packages`), redrawn at most every REDRAW_MS so that drawing never costs
 * more than the work it reports. On anything but a terminal it draws
 * nothing: logs and pipes get the final summary only.
 */

const REDRAW_MS = 100;

export class ProgressLine {
  #drawn = false;
  #last = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  /** Shows `text`, unless it was redrawn less than REDRAW_MS ago (`force` draws anyway). */
  update(text: string, force = false): void {
    if (!this.stream.isTTY) return;
    const now = Date.now();
    if (!force && this.#drawn && now - this.#last < REDRAW_MS) return;
    this.#last = now;
    this.#drawn = true;
    this.stream.write(`\r\x1b[K${text}`);
  }

  /** Removes the line, leaving the cursor where it started. */
  clear(): void {
    if (this.#drawn) this.stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}
