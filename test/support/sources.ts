/**
 * Small SPF 2.0 source package directories written by tests (README.md,
 * "Source packages"), to feed `opkfarm source build`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface BinarySpec {
  readonly name: string;
  /** Architecture field: `all`, `any` or names. */
  readonly architecture: string;
  readonly section?: string;
}

export interface SourceSpec {
  readonly name: string;
  readonly version: string;
  readonly binaries: readonly BinarySpec[];
  /**
   * Recipe lines of the makefile's `build` target (tabs added). The default
   * does nothing; `install` always creates tmp/<binpkg>.data/usr/share/<binpkg>/<binpkg>
   * for every binary package.
   */
  readonly buildRecipe?: readonly string[];
}

/** Writes the source package directory `<parent>/<name>` and returns its path. */
export async function writeSourcePackage(parent: string, spec: SourceSpec): Promise<string> {
  const directory = join(parent, spec.name);
  await mkdir(join(directory, 'src'), { recursive: true });
  await writeFile(join(directory, 'format'), '2.0\n');
  await writeFile(join(directory, 'control'), 'Maintainer: Test Maintainer <maintainer@example.org>\nSection: misc\n');
  await writeFile(
    join(directory, 'changelog'),
    `${spec.name} (${spec.version}) trunk; urgency=low\n\n  * Test upload.\n\n -- Test Uploader <uploader@example.org>  Sat, 21 Nov 2026 12:00:00 +0000\n`,
  );
  await writeFile(join(directory, 'src', 'payload'), `${spec.name} ${spec.version}\n`);
  const install = spec.binaries.flatMap((binary) => [
    `mkdir -p tmp/${binary.name}.data/usr/share/${binary.name}`,
    `cp tmp/src/payload tmp/${binary.name}.data/usr/share/${binary.name}/${binary.name}`,
  ]);
  const makefile = [
    '#!/usr/bin/make -f',
    'build:',
    ...(spec.buildRecipe ?? ['@echo nothing to compile']).map((line) => `\t${line}`),
    '',
    'install: build',
    ...install.map((line) => `\t${line}`),
    '',
    '.PHONY: build install',
    '',
  ];
  await writeFile(join(directory, 'build'), makefile.join('\n'));
  await chmod(join(directory, 'build'), 0o755);
  for (const binary of spec.binaries) {
    await mkdir(join(directory, `${binary.name}.pkg`));
    await writeFile(
      join(directory, `${binary.name}.pkg`, 'control'),
      `Architecture: ${binary.architecture}\nPlatform: all\nSection: ${binary.section ?? 'misc'}\nDescription: test package ${binary.name}\n`,
    );
  }
  return directory;
}
