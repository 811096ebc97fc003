/**
 * Size limits on the parts of an opk that are held in memory: the control
 * archive and each file in it. The reader refuses more (FormatError
 * 'opk.too-large') and the writer refuses to produce more, so every package
 * opkfarm writes is one it can read. Data archives are streamed and not
 * limited here.
 */

/** Largest control file (control, conffiles, maintainer scripts...), in bytes. */
export const MAX_CONTROL_FILE_SIZE = 1024 * 1024;

/** Largest decompressed control archive, in bytes. */
export const MAX_CONTROL_ARCHIVE_SIZE = 16 * 1024 * 1024;
