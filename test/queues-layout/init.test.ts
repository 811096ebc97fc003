/**
 * `initQueueRoot`: the tree it creates, idempotence, applying configuration
 * changes, what it refuses, and the root checks (hard links, one filesystem).
 */
import { copyFile, link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvironmentError, FormatError } from '../../lib/errors.js';
import {
  InitConflictError,
  checkHardLinks,
  checkOneFilesystem,
  initQueueRoot,
  type FsProbe,
  type InitChange,
} from '../../queues-layout/init.js';

const EXAMPLE = fileURLToPath(new URL('../../queues-layout/opkfarm.conf.example', import.meta.url));

/** The example's tree: every directory with its mode, every link with its target, and the configuration. */
const EXAMPLE_TREE = [
  'archive-queue/ 755',
  'archive/ 755',
  'archive/feeds/ 755',
  'archive/logs/ 755',
  'archive/pool/ 755',
  'mail-spool/ 755',
  'mail-spool/claims/ 755',
  'mail-spool/failed/ 755',
  'opkfarm.conf',
  'outbox/ 755',
  'queues/ 755',
  'queues/arch/ 755',
  'queues/arch/all -> ../buildd/amd64',
  'queues/arch/amd64-linux-glibc -> ../buildd/amd64',
  'queues/arch/armhf-linux-gnueabihf -> ../buildd/arm',
  'queues/buildd/ 755',
  'queues/buildd/amd64/ 755',
  'queues/buildd/amd64/claims/ 755',
  'queues/buildd/arm/ 755',
  'queues/buildd/arm/claims/ 755',
  'queues/master/ 755',
  'rejected/ 755',
  'state/ 755',
  'state/heartbeats/ 755',
  'tmp/ 755',
  'uploads/ 755',
  'uploads/incoming/ 755',
];

let scratch: string;
let root: string;

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'opkfarm-init-'));
  root = join(scratch, 'farm', 'root');
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Every entry under `directory`, sorted: `dir/ mode`, `link -> target` or `file`; links are not followed. */
async function tree(directory: string, prefix = ''): Promise<string[]> {
  const entries: string[] = [];
  for (const name of await readdir(directory)) {
    const path = join(directory, name);
    const info = await lstat(path);
    if (info.isSymbolicLink()) entries.push(`${prefix}${name} -> ${await readlink(path)}`);
    else if (info.isDirectory()) {
      entries.push(`${prefix}${name}/ ${(info.mode & 0o7777).toString(8)}`, ...(await tree(path, `${prefix}${name}/`)));
    } else entries.push(`${prefix}${name}`);
  }
  return entries.sort();
}

/** A configuration file in the scratch directory. */
async function config(name: string, text: string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, text);
  return path;
}

/** Changes with paths relative to the root, for comparison. */
function relativeChanges(changes: readonly InitChange[]): InitChange[] {
  return changes.map((change) => ({ ...change, path: relative(root, change.path) || '.' }));
}

const FARM = 'Farm: test\n\n';

describe('initQueueRoot', () => {
  it('creates the whole tree, its parents included', async () => {
    const report = await initQueueRoot({ root, configFile: EXAMPLE });
    expect(await tree(root)).toEqual(EXAMPLE_TREE);
    expect((await stat(root)).mode & 0o7777).toBe(0o755);
    expect(await readFile(join(root, 'opkfarm.conf'))).toEqual(await readFile(EXAMPLE));
    expect(await realpath(join(root, 'queues/arch/all'))).toBe(await realpath(join(root, 'queues/buildd/amd64')));
    expect(await realpath(join(root, 'queues/arch/armhf-linux-gnueabihf'))).toBe(await realpath(join(root, 'queues/buildd/arm')));

    expect(report.root).toBe(root);
    expect(report.config.name).toBe('example');
    const changes = relativeChanges(report.changes);
    expect(changes[0]).toEqual({ kind: 'directory-created', path: '.' });
    expect(changes.filter((change) => change.kind === 'directory-created').map((change) => `${change.path}/ 755`).slice(1).sort()).toEqual(
      EXAMPLE_TREE.filter((entry) => entry.endsWith('/ 755')),
    );
    expect(changes.filter((change) => change.kind !== 'directory-created')).toEqual([
      { kind: 'link-created', path: 'queues/arch/amd64-linux-glibc', target: '../buildd/amd64' },
      { kind: 'link-created', path: 'queues/arch/all', target: '../buildd/amd64' },
      { kind: 'link-created', path: 'queues/arch/armhf-linux-gnueabihf', target: '../buildd/arm' },
      { kind: 'config-created', path: 'opkfarm.conf' },
    ]);
  });

  it('sets directory modes whatever the umask', async () => {
    const previous = process.umask(0o077);
    try {
      await initQueueRoot({ root, configFile: EXAMPLE });
    } finally {
      process.umask(previous);
    }
    expect(await tree(root)).toEqual(EXAMPLE_TREE);
  });

  it('changes nothing when run again, with the same file or the root\'s own copy', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    expect((await initQueueRoot({ root, configFile: EXAMPLE })).changes).toEqual([]);
    expect((await initQueueRoot({ root, configFile: join(root, 'opkfarm.conf') })).changes).toEqual([]);
    expect(await tree(root)).toEqual(EXAMPLE_TREE);
  });

  it('fills in what is missing from an existing root', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    await rm(join(root, 'state'), { recursive: true });
    await rm(join(root, 'queues/buildd/arm/claims'), { recursive: true });
    await rm(join(root, 'queues/arch/all'));
    const report = await initQueueRoot({ root, configFile: EXAMPLE });
    expect(relativeChanges(report.changes)).toEqual([
      { kind: 'directory-created', path: 'state' },
      { kind: 'directory-created', path: 'state/heartbeats' },
      { kind: 'directory-created', path: 'queues/buildd/arm/claims' },
      { kind: 'link-created', path: 'queues/arch/all', target: '../buildd/amd64' },
    ]);
    expect(await tree(root)).toEqual(EXAMPLE_TREE);
  });

  it('applies a changed configuration: new queues, moved and dropped architectures', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    const moved = await config(
      'moved.conf',
      FARM +
        'Queue: amd64\nArchitectures: amd64-linux-glibc\n\n' +
        'Queue: arm\nArchitectures: armhf-linux-gnueabihf all\n\n' +
        'Queue: i386\nArchitectures: i386-linux-glibc\n',
    );
    let report = await initQueueRoot({ root, configFile: moved });
    expect(relativeChanges(report.changes)).toEqual([
      { kind: 'directory-created', path: 'queues/buildd/i386' },
      { kind: 'directory-created', path: 'queues/buildd/i386/claims' },
      { kind: 'link-changed', path: 'queues/arch/all', target: '../buildd/arm', previous: '../buildd/amd64' },
      { kind: 'link-created', path: 'queues/arch/i386-linux-glibc', target: '../buildd/i386' },
      { kind: 'config-updated', path: 'opkfarm.conf' },
    ]);
    expect((await tree(join(root, 'queues/arch'))).sort()).toEqual([
      'all -> ../buildd/arm',
      'amd64-linux-glibc -> ../buildd/amd64',
      'armhf-linux-gnueabihf -> ../buildd/arm',
      'i386-linux-glibc -> ../buildd/i386',
    ]);
    expect(await readFile(join(root, 'opkfarm.conf'), 'utf8')).toBe(await readFile(moved, 'utf8'));

    const dropped = await config(
      'dropped.conf',
      FARM + 'Queue: amd64\nArchitectures: amd64-linux-glibc\n\nQueue: arm\nArchitectures: all\n\nQueue: i386\nArchitectures: i386-linux-glibc\n',
    );
    report = await initQueueRoot({ root, configFile: dropped });
    expect(relativeChanges(report.changes)).toEqual([
      { kind: 'link-removed', path: 'queues/arch/armhf-linux-gnueabihf', previous: '../buildd/arm' },
      { kind: 'config-updated', path: 'opkfarm.conf' },
    ]);
    expect(await readdir(join(root, 'queues/arch'))).toEqual(expect.arrayContaining(['all', 'amd64-linux-glibc', 'i386-linux-glibc']));
    expect(await readdir(join(root, 'queues/arch'))).toHaveLength(3);
  });

  it('removes an empty queue the configuration drops', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    const amd64Only = await config('amd64.conf', FARM + 'Queue: amd64\nArchitectures: amd64-linux-glibc all\n');
    const report = await initQueueRoot({ root, configFile: amd64Only });
    expect(relativeChanges(report.changes)).toEqual([
      { kind: 'link-removed', path: 'queues/arch/armhf-linux-gnueabihf', previous: '../buildd/arm' },
      { kind: 'queue-removed', path: 'queues/buildd/arm' },
      { kind: 'config-updated', path: 'opkfarm.conf' },
    ]);
    expect(await readdir(join(root, 'queues/buildd'))).toEqual(['amd64']);
  });

  it('refuses to drop a queue that holds entries, and changes nothing', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    await writeFile(join(root, 'queues/buildd/arm/0000000001_hello_1.0-1.opk'), 'entry');
    await writeFile(join(root, 'queues/buildd/arm/claims/0000000002_hello_1.0-2.opk@host@42'), 'entry');
    const amd64Only = await config('amd64.conf', FARM + 'Queue: amd64\nArchitectures: amd64-linux-glibc all\n');
    const before = await tree(root);

    const refusal = initQueueRoot({ root, configFile: amd64Only });
    await expect(refusal).rejects.toBeInstanceOf(InitConflictError);
    await expect(refusal).rejects.toThrow(
      `queue "arm" is not in the configuration any more but ${join(root, 'queues/buildd/arm')} still holds 2 entries: ` +
        'keep the queue in the configuration until its entries are built',
    );
    expect(await tree(root)).toEqual(before);
    expect(await readFile(join(root, 'opkfarm.conf'))).toEqual(await readFile(EXAMPLE));

    // Once built, the queue can go.
    await rm(join(root, 'queues/buildd/arm/0000000001_hello_1.0-1.opk'));
    await rm(join(root, 'queues/buildd/arm/claims/0000000002_hello_1.0-2.opk@host@42'));
    const report = await initQueueRoot({ root, configFile: amd64Only });
    expect(report.changes.map((change) => change.kind)).toEqual(['link-removed', 'queue-removed', 'config-updated']);
  });

  it('counts one entry in the singular and names every busy queue', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    await writeFile(join(root, 'queues/buildd/arm/0000000001_hello_1.0-1.opk'), 'entry');
    await writeFile(join(root, 'queues/buildd/amd64/0000000001_hello_1.0-1.opk'), 'entry');
    const other = await config('other.conf', FARM + 'Queue: other\nArchitectures: all\n');
    await expect(initQueueRoot({ root, configFile: other })).rejects.toThrow(
      `queue "amd64" is not in the configuration any more but ${join(root, 'queues/buildd/amd64')} still holds 1 entry; ` +
        `queue "arm" is not in the configuration any more but ${join(root, 'queues/buildd/arm')} still holds 1 entry: ` +
        'keep the queue in the configuration until its entries are built',
    );
  });

  it('keeps a dropped queue holding files that are not entries', async () => {
    await initQueueRoot({ root, configFile: EXAMPLE });
    await writeFile(join(root, 'queues/buildd/arm/notes.txt'), 'operator notes');
    const amd64Only = await config('amd64.conf', FARM + 'Queue: amd64\nArchitectures: amd64-linux-glibc all\n');
    const report = await initQueueRoot({ root, configFile: amd64Only });
    expect(relativeChanges(report.changes)).toContainEqual({ kind: 'queue-kept', path: 'queues/buildd/arm', files: ['notes.txt'] });
    expect(await readdir(join(root, 'queues/buildd/arm'))).toEqual(['claims', 'notes.txt']);
  });

  it('creates nothing for a bad configuration', async () => {
    const bad = await config('bad.conf', FARM + 'Queue: q\nArchitectures: any\n');
    await expect(initQueueRoot({ root, configFile: bad })).rejects.toThrow(
      new FormatError('control.bad-field', bad, 'Architectures: "any" is a pattern; a build queue serves concrete architectures (all or <cpu>-<kernel>-<libc>)', 4),
    );
    await expect(initQueueRoot({ root, configFile: join(scratch, 'missing.conf') })).rejects.toBeInstanceOf(EnvironmentError);
    expect(await readdir(scratch)).toEqual(['bad.conf']);

    await initQueueRoot({ root, configFile: EXAMPLE });
    await expect(initQueueRoot({ root, configFile: bad })).rejects.toBeInstanceOf(FormatError);
    expect(await tree(root)).toEqual(EXAMPLE_TREE);
  });

  it('refuses a path in the way of a directory or a link', async () => {
    await mkdir(join(root, 'queues'), { recursive: true });
    await writeFile(join(root, 'queues/master'), 'not a directory');
    await expect(initQueueRoot({ root, configFile: EXAMPLE })).rejects.toThrow(
      new EnvironmentError(`${join(root, 'queues/master')} exists and is not a directory: move it away`),
    );
    await rm(join(root, 'queues/master'));
    await mkdir(join(root, 'queues/arch/all'), { recursive: true });
    await expect(initQueueRoot({ root, configFile: EXAMPLE })).rejects.toThrow(
      `${join(root, 'queues/arch/all')} is not a symbolic link; queues/arch/ holds only links to build queues: move it away`,
    );
  });

  it('refuses a root without hard links and leaves nothing behind', async () => {
    const probe: FsProbe = { link: () => Promise.reject(errno('EPERM')), stat };
    await expect(initQueueRoot({ root, configFile: EXAMPLE, probe })).rejects.toThrow(
      `cannot use ${root} as a queue root: link(2) failed: EPERM (tested in ${join(root, 'tmp')}); ` +
        'the queue protocol needs hard links and link counts, as on ext4, xfs, btrfs or NFS',
    );
    expect(await readdir(scratch)).toEqual([]);
  });
});

describe('checkHardLinks', () => {
  beforeEach(async () => {
    await mkdir(join(root, 'tmp'), { recursive: true });
  });

  it('accepts a local filesystem and cleans up', async () => {
    await checkHardLinks(root);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it.each<[string, Partial<FsProbe>, string]>([
    ['link(2) fails', { link: () => Promise.reject(errno('EPERM')) }, 'link(2) failed: EPERM'],
    ['link(2) copies', { link: (from, to) => copyFile(from, to) }, 'link counts are not reported (nlink 1 after link)'],
    [
      'link counts stay at 1',
      { stat: async (path) => ({ ...(await stat(path)), nlink: 1 }) },
      'link counts are not reported (nlink 1 after link)',
    ],
    [
      'the two names are two inodes',
      { stat: (path) => Promise.resolve({ dev: 1, ino: path.endsWith('-2') ? 8 : 7, nlink: 2 }) },
      'link(2) made a second file, not a second name (inodes 7 and 8)',
    ],
  ])('refuses a root where %s', async (_name, fake, what) => {
    const probe: FsProbe = { link, stat, ...fake };
    const check = checkHardLinks(root, probe);
    await expect(check).rejects.toBeInstanceOf(EnvironmentError);
    await expect(check).rejects.toThrow(`cannot use ${root} as a queue root: ${what} (tested in ${join(root, 'tmp')})`);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });
});

describe('checkOneFilesystem', () => {
  it('refuses directories on two devices', async () => {
    await mkdir(join(root, 'tmp'), { recursive: true });
    await mkdir(join(root, 'queues'), { recursive: true });
    const queues = join(root, 'queues');
    const probe: FsProbe = { link, stat: async (path) => ({ ...(await stat(path)), dev: path === queues ? 99 : 1 }) };
    await expect(checkOneFilesystem(root, [join(root, 'tmp'), queues], probe)).rejects.toThrow(
      `cannot use ${root} as a queue root: ${queues} is on another filesystem than ${join(root, 'tmp')} (device 99, not 1); ` +
        'hard links and renames do not cross filesystems, so the whole root must be one',
    );
    await checkOneFilesystem(root, [join(root, 'tmp'), queues]);
  });

  it('makes init refuse a queues/ mounted from elsewhere', async (context) => {
    const elsewhere = await mkdtemp('/dev/shm/opkfarm-init-').catch(() => undefined);
    if (elsewhere === undefined || (await stat(elsewhere)).dev === (await stat(scratch)).dev) {
      context.skip();
      return;
    }
    try {
      await mkdir(root, { recursive: true });
      await symlink(elsewhere, join(root, 'queues'));
      await expect(initQueueRoot({ root, configFile: EXAMPLE })).rejects.toThrow(
        `${join(root, 'queues')} is on another filesystem than ${join(root, 'tmp')}`,
      );
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: operation not permitted`), { code });
}
