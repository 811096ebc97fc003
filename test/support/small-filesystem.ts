/**
 * A small filesystem mounted for a test (disk-full runs), made the first way
 * this machine allows:
 * 1. a tmpfs mount (root, or CAP_SYS_ADMIN);
 * 2. a loop-mounted ext4 image (the same, and a loop device);
 * 3. a tmpfs mounted in a user and mount namespace of its own
 *    (`unshare -Urm`, for an unprivileged user where the kernel allows it):
 *    a holder process keeps the namespace; programs run in it through
 *    nsenter, and this process sees the mount through /proc/<holder>/root.
 * Where none works the caller skips with the reasons this returns.
 * OPKFARM_TEST_FILESYSTEM=ext4 or =unshare starts at that way, to try it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';

export interface SmallFilesystem {
  /** The mount point, as the programs run through `command` see it. */
  readonly path: string;
  /** How it was made. */
  readonly kind: string;
  /** A path under `path` as this process sees it. */
  view(path: string): string;
  /** Runs `file args…` where the mount is seen at `path` (reject: false). */
  command(file: string, args: readonly string[]): ResultPromise<{ reject: false }>;
  /** Unmounts it (lazily when busy) and removes what it was made of. */
  unmount(): Promise<void>;
}

type Way = 'tmpfs' | 'ext4' | 'unshare';
const WAYS: readonly Way[] = ['tmpfs', 'ext4', 'unshare'];

/** Mounts a filesystem of `megabytes` MiB at `path` (created); the reasons every way failed, when none did. */
export async function mountSmallFilesystem(path: string, image: string, megabytes: number): Promise<SmallFilesystem | { failed: string[] }> {
  await mkdir(path, { recursive: true });
  const first = WAYS.indexOf(process.env.OPKFARM_TEST_FILESYSTEM as Way);
  const failed: string[] = [];
  for (const way of WAYS.slice(Math.max(0, first))) {
    const mounted = await MOUNTERS[way](path, image, megabytes);
    if (typeof mounted !== 'string') return mounted;
    failed.push(`${way}: ${mounted}`);
  }
  return { failed };
}

const MOUNTERS: Record<Way, (path: string, image: string, megabytes: number) => Promise<SmallFilesystem | string>> = {
  async tmpfs(path, _image, megabytes) {
    const mount = await execa('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'opkfarm-test', path], { reject: false });
    return mount.exitCode === 0 ? plainMount(path, 'tmpfs', () => Promise.resolve()) : firstLine(mount);
  },

  async ext4(path, image, megabytes) {
    const made = await execa('sh', ['-c', `truncate -s ${megabytes}M "$1" && mkfs.ext4 -q -F "$1"`, 'sh', image], { reject: false });
    const mount = made.exitCode === 0 ? await execa('mount', ['-o', 'loop', image, path], { reject: false }) : made;
    if (mount.exitCode === 0) return plainMount(path, 'ext4 loop image', () => rm(image, { force: true }));
    await rm(image, { force: true });
    return firstLine(mount);
  },

  async unshare(path, _image, megabytes) {
    const holder = execa(
      'unshare',
      ['-Urm', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=${megabytes}m opkfarm-test "$1" && echo ready && exec sleep 100000`, 'sh', path],
      { reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true } },
    );
    const ready = await new Promise<boolean>((resolve) => {
      holder.stdout?.once('data', () => resolve(true));
      void holder.then(() => resolve(false));
    });
    if (!ready || holder.pid === undefined) {
      holder.kill('SIGKILL');
      const result = await holder;
      return firstLine(result);
    }
    const pid = String(holder.pid);
    return {
      path,
      kind: 'tmpfs in a user and mount namespace (unshare -Urm)',
      view: (inside) => `/proc/${pid}/root${inside}`,
      command: (file, args) => execa('nsenter', ['-t', pid, '-U', '-m', '--preserve-credentials', file, ...args], { reject: false }),
      async unmount() {
        // The mount goes with the namespace's last process.
        holder.kill('SIGKILL');
        await holder;
      },
    };
  },
};

function plainMount(path: string, kind: string, cleanUp: () => Promise<void>): SmallFilesystem {
  return {
    path,
    kind,
    view: (inside) => inside,
    command: (file, args) => execa(file, args, { reject: false }),
    async unmount() {
      const plain = await execa('umount', [path], { reject: false });
      if (plain.exitCode !== 0) await execa('umount', ['-l', path], { reject: false });
      await cleanUp();
    },
  };
}

function firstLine(result: { stderr?: unknown; shortMessage?: string }): string {
  const text = typeof result.stderr === 'string' ? result.stderr.trim() : '';
  return (text === '' ? (result.shortMessage ?? 'failed') : text).split('\n')[0] ?? 'failed';
}
