/**
 * A small filesystem mounted for a test (disk-full runs), made the first way
 * this machine allows: a tmpfs mount, then a loop-mounted ext4 image. Both
 * need the right to mount (root, or CAP_SYS_ADMIN); where neither works the
 * caller skips with the reasons this returns. OPKFARM_TEST_FILESYSTEM=ext4
 * skips the tmpfs, to run a test on the loop-mounted image.
 */
import { mkdir, rm } from 'node:fs/promises';
import { execa } from 'execa';

export interface SmallFilesystem {
  /** The mount point. */
  readonly path: string;
  /** How it was made: `tmpfs` or `ext4 loop image`. */
  readonly kind: string;
  /** Unmounts it (lazily when busy) and removes what it was made of. */
  unmount(): Promise<void>;
}

/** Mounts a filesystem of `megabytes` MiB at `path` (created); the reasons every way failed, when none did. */
export async function mountSmallFilesystem(path: string, image: string, megabytes: number): Promise<SmallFilesystem | { failed: string[] }> {
  await mkdir(path, { recursive: true });
  const failed: string[] = [];
  if (process.env.OPKFARM_TEST_FILESYSTEM !== 'ext4') {
    const tmpfs = await execa('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'opkfarm-test', path], { reject: false });
    if (tmpfs.exitCode === 0) return mounted(path, 'tmpfs', () => Promise.resolve());
    failed.push(`mount -t tmpfs: ${firstLine(tmpfs.stderr, tmpfs.shortMessage ?? 'failed')}`);
  }

  const made = await execa('sh', ['-c', `truncate -s ${megabytes}M "$1" && mkfs.ext4 -q -F "$1"`, 'sh', image], { reject: false });
  const loop = made.exitCode === 0 ? await execa('mount', ['-o', 'loop', image, path], { reject: false }) : made;
  if (loop.exitCode === 0) return mounted(path, 'ext4 loop image', () => rm(image, { force: true }));
  failed.push(`loop-mounted ext4: ${firstLine(loop.stderr, loop.shortMessage ?? 'failed')}`);
  await rm(image, { force: true });
  return { failed };
}

function mounted(path: string, kind: string, cleanUp: () => Promise<void>): SmallFilesystem {
  return {
    path,
    kind,
    async unmount() {
      const plain = await execa('umount', [path], { reject: false });
      if (plain.exitCode !== 0) await execa('umount', ['-l', path], { reject: false });
      await cleanUp();
    },
  };
}

function firstLine(stderr: unknown, fallback: string): string {
  const text = typeof stderr === 'string' ? stderr.trim() : '';
  return (text === '' ? fallback : text).split('\n')[0] ?? fallback;
}
