/** Where an upload goes: a farm's incoming/ over SFTP, or one on this machine. */
import type { UploadFile } from './local-check.js';

export interface UploadTransport {
  /** The destination as the .upload log names it (no spaces): sftp://user@host:port/incoming, file:///…/incoming. */
  readonly destination: string;
  /** Sizes of the regular files there, by name, temporary names included. */
  listSizes(): Promise<Map<string, number>>;
  /**
   * Writes `file` under its temporary name from `offset` (0: the whole file;
   * the partial file there already holds the bytes before it), makes it
   * readable by all, durable, and renames it to its name.
   */
  send(file: UploadFile, offset: number): Promise<void>;
  /** Removes a file there. */
  remove(name: string): Promise<void>;
}
