/**
 * The built-in builder: what SPF 2.0 asks of a package building tool, on
 * the build host itself. In a copy of the source package directory it copies
 * `src/` to `tmp/src`, runs `make -f build build` then `make -f build install`
 * with the OPK_* variables set, and packs `tmp/<binpkg>.data` of each
 * requested binary package into an opk, with control fields from
 * `<binpkg>.pkg/control` and maintainer scripts from `<binpkg>.pkg/`.
 * Packages are reproducible: every mtime is the change log date.
 */
import { cp, lstat, readFile, readdir, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Stanza } from '../formats/control.js';
import { versionForFileName, parseVersion } from '../formats/version.js';
import { writeOpk, type ControlFile } from '../opk/write.js';
import { readSourceDirectory, type SourceDirectory } from '../source/spf.js';
import type { Builder, BuildRequest } from './builder.js';
import { commandOfBuild, runLogged } from './run-logged.js';

/** Files of a `<binpkg>.pkg/` directory that go into the control archive. */
const CONTROL_FILES: Readonly<Record<string, number>> = {
  preinst: 0o755,
  postinst: 0o755,
  prerm: 0o755,
  postrm: 0o755,
  conffiles: 0o644,
};

/** Fields of `<binpkg>.pkg/control` that the builder sets itself. */
const GENERATED_FIELDS = new Set(['package', 'source', 'version', 'architecture', 'platform', 'maintainer', 'installed-size']);

export const builtinBuilder: Builder = async (request) => {
  const tree = join(request.workDirectory, 'source');
  await cp(request.sourceDirectory, tree, { recursive: true, verbatimSymlinks: true });
  const spec = await readSourceDirectory(tree);
  const hasSrc = await lstat(join(tree, 'src')).then((stats) => stats.isDirectory(), () => false);
  if (hasSrc) await cp(join(tree, 'src'), join(tree, 'tmp', 'src'), { recursive: true, verbatimSymlinks: true });

  const environment = buildEnvironment(request, spec);
  for (const target of ['build', 'install']) {
    const run = await runLogged(
      // make sees its own copy of the source only: the packing below is done outside the sandbox.
      commandOfBuild(request, { command: 'make', args: ['-f', 'build', target], cwd: tree, env: environment, view: { readable: [], writable: [request.workDirectory] } }),
    );
    if (run.status === 'aborted') return { status: 'aborted' };
    if (run.status !== 'ok') return { status: 'failed', error: `build ${target}: ${run.error}` };
  }

  for (const name of request.packages) {
    const data = join(tree, 'tmp', `${name}.data`);
    const isDirectory = await lstat(data).then((stats) => stats.isDirectory(), () => false);
    if (!isDirectory) return { status: 'failed', error: `the build created no tmp/${name}.data directory` };
    // Packing runs outside the sandbox: a build must not point it at the host's files through a symlink.
    for (const path of [data, join(tree, `${name}.pkg`)]) {
      if (!(await isInside(path, tree))) return { status: 'failed', error: `${relative(tree, path)} leads out of the build's tree (a symlink)` };
    }
    const binary = spec.binaryPackages.find((candidate) => candidate.name === name);
    if (!binary) return { status: 'failed', error: `no ${name}.pkg in the source package` };
    await writeOpk({
      destination: join(request.outputDirectory, `${name}_${versionForFileName(request.version)}_${request.architecture}_${request.platform}.opk`),
      control: binaryControl(request, spec, binary.control, name, await installedSizeKiB(data)),
      controlFiles: await controlFiles(join(tree, `${name}.pkg`)),
      dataDirectory: data,
      sourceDateEpoch: spec.changelog.timestamp,
    });
  }
  return { status: 'ok' };
};

function buildEnvironment(request: BuildRequest, spec: SourceDirectory): Record<string, string> {
  const version = parseVersion(request.version);
  const [cpu = '', kernel = '', libc = ''] = request.architecture.split('-');
  return {
    OPK_SOURCE: request.source,
    OPK_SOURCE_VERSION: request.version,
    OPK_SOURCE_VERSION_UPSTREAM: version.upstream,
    OPK_BINARY_VERSION: request.version,
    OPK_PACKAGES: request.packages.join(' '),
    OPK_HOST_ARCH: request.architecture,
    OPK_HOST_ARCH_CPU: cpu,
    OPK_HOST_ARCH_KERNEL: kernel,
    OPK_HOST_ARCH_LIBC: libc,
    OPK_HOST_PLAT: request.platform,
    OPK_BUILD_ARCH: request.architecture,
    SOURCE_DATE_EPOCH: String(spec.changelog.timestamp),
  };
}

function binaryControl(request: BuildRequest, spec: SourceDirectory, fields: Stanza, name: string, installedSize: number): Stanza {
  const control = new Stanza([
    ['Package', name],
    ['Source', request.source],
    ['Version', request.version],
    ['Architecture', request.architecture],
    ['Platform', request.platform],
    ['Maintainer', spec.control.get('Maintainer') ?? ''],
    ['Installed-Size', String(installedSize)],
  ]);
  for (const [field, value] of fields.entries()) {
    if (!GENERATED_FIELDS.has(field.toLowerCase())) control.set(field, value);
  }
  // Description last, as dpkg and opkg-build write it.
  const description = control.get('Description');
  if (description !== undefined) {
    control.delete('Description');
    control.set('Description', description);
  }
  return control;
}

async function controlFiles(packageDirectory: string): Promise<ControlFile[]> {
  const files: ControlFile[] = [];
  for (const [name, mode] of Object.entries(CONTROL_FILES)) {
    const path = join(packageDirectory, name);
    // Regular files only: the build may have replaced one with a symlink to a file of the host.
    const isFile = await lstat(path).then((stats) => stats.isFile(), () => false);
    if (isFile) files.push({ name, content: await readFile(path), mode });
  }
  return files;
}

/** Whether `path`, symlinks resolved, is inside `tree` (itself resolved). */
async function isInside(path: string, tree: string): Promise<boolean> {
  const [resolved, root] = await Promise.all([realpath(path).catch(() => undefined), realpath(tree)]);
  return resolved !== undefined && (resolved === root || resolved.startsWith(root + sep));
}

/** Installed-Size in KiB, as opkg reports it: the sum of the regular files, rounded up. */
async function installedSizeKiB(directory: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return Math.ceil(bytes / 1024);
}
