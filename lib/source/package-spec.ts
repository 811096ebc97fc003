/**
 * What a source package (`<source>_<version>_src.opk`) says about itself,
 * without unpacking its code: the SPF 2.0 metadata under
 * usr/src/<source>_<version>/ (format, control, changelog, build and each
 * <binpkg>.pkg/control) is written to a scratch directory and read with
 * readSourceDirectory, the reader buildd uses, so a reviewer sees what the
 * builds will see. src/ and everything else are skipped unread.
 */
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FormatError } from '../errors.js';
import { MAX_CONTROL_FILE_SIZE } from '../opk/limits.js';
import { readOpk } from '../opk/read.js';
import { readSourceDirectory, type SourceDirectory } from './spf.js';

const METADATA = /^(?:format|control|changelog|build|[a-z0-9][a-z0-9+.-]+\.pkg\/control)$/;

/**
 * Reads the metadata of the source package `name` (as messages name it) for
 * `tree` (`usr/src/<source>_<version>`), from `handle`, which it closes.
 */
export async function readSourcePackageSpec(name: string, handle: FileHandle, tree: string): Promise<SourceDirectory> {
  const scratch = await mkdtemp(join(tmpdir(), 'opkfarm-source-')).catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  try {
    await readOpk(name, {
      handle,
      onDataEntry: async (entry) => {
        if (entry.type !== 'file' || !entry.path.startsWith(`${tree}/`)) return;
        const relative = entry.path.slice(tree.length + 1);
        if (!METADATA.test(relative)) return;
        if (entry.size > MAX_CONTROL_FILE_SIZE) {
          throw new FormatError('opk.too-large', name, `${relative} is ${entry.size} bytes, more than the ${MAX_CONTROL_FILE_SIZE} a metadata file may have`);
        }
        const target = join(scratch, relative);
        await mkdir(dirname(target), { recursive: true });
        const output = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, entry.mode & 0o755);
        try {
          for await (const chunk of entry.body as AsyncIterable<Buffer>) await output.write(chunk);
          // readSourceDirectory checks that build is executable: keep the mode as packed.
          await output.chmod(entry.mode & 0o755);
        } finally {
          await output.close();
        }
      },
    });
    const spec = await readSourceDirectory(scratch);
    return { ...spec, directory: `${name}:${tree}` };
  } catch (error) {
    // Name the package, not the scratch directory, in what the reviewer reads.
    if (error instanceof FormatError && error.file.startsWith(scratch)) {
      throw new FormatError(error.code, `${name}:${tree}${error.file.slice(scratch.length)}`, error.detail, error.line);
    }
    throw error;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
