/**
 * What to do with each file of an upload, given what the destination holds
 * (sizes by name, temporary names included) and what the .upload log says
 * was sent there before. A file is trusted to be ours only when the log
 * names it with the same SHA-256: then a file of full size under its final
 * name is skipped, a complete temporary file is only renamed, and a shorter
 * one is resumed from its size. Anything else is sent whole, under its
 * temporary name, which replaces whatever was there.
 */
import { uploadTempName } from '../formats/upload-names.js';
import type { UploadFile } from './local-check.js';
import type { UploadLogEntry } from './upload-log.js';

export type FileAction =
  /** Already there under its final name. */
  | { readonly kind: 'skip'; readonly file: UploadFile }
  /** Send from `offset` (0: the whole file) under the temporary name, then rename. */
  | { readonly kind: 'send'; readonly file: UploadFile; readonly offset: number };

export interface UploadPlan {
  readonly actions: readonly FileAction[];
  /** A .changes of another upload under this one's name, to remove before the files are replaced under it. */
  readonly staleChanges?: string;
}

/** Plans sending `files` (the .changes last) to a destination holding `remote`. */
export function planUpload(
  files: readonly UploadFile[],
  remote: ReadonlyMap<string, number>,
  log: readonly UploadLogEntry[],
  options: { destination: string; force: boolean },
): UploadPlan {
  const ours = (file: UploadFile) =>
    !options.force &&
    log.some((entry) => entry.destination === options.destination && entry.name === file.name && entry.sha256 === file.sha256 && entry.event !== 'uploaded');
  const actions = files.map((file): FileAction => {
    if (ours(file) && remote.get(file.name) === file.size) return { kind: 'skip', file };
    const partial = remote.get(uploadTempName(file.name));
    if (ours(file) && partial !== undefined && partial <= file.size) return { kind: 'send', file, offset: partial };
    return { kind: 'send', file, offset: 0 };
  });
  const changes = files.at(-1);
  const changesAction = actions.at(-1);
  const stale = changes !== undefined && changesAction?.kind === 'send' && remote.has(changes.name);
  return { actions, ...(stale ? { staleChanges: changes.name } : {}) };
}
