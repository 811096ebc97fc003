/**
 * The uploads of a chaos run or a crash-window test, made with opkfarm's own
 * writers: source pkgNNNNN has an `any` package pkgNNNNN (built by the queue
 * serving this machine's architecture) and an `all` package pkgNNNNN-doc.
 * The builder is a shell script that sleeps a little (so that kills land
 * inside builds) and copies the prebuilt package of the build it is asked
 * for: what is exercised is the queue protocol, not a compiler.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Stanza } from '../formats/control.js';
import { writeOpk } from '../opk/write.js';
import { buildSourcePackage } from '../source/build-source.js';
import type { ExpectedBuild, ExpectedUpload } from './end-state.js';

export const CHAOS_VERSION = '1.0';

/** The architecture name of this machine, as scripts/demo.sh computes it. */
export function nativeArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64-linux-glibc', arm64: 'arm64-linux-glibc', arm: 'armhf-linux-gnueabihf', ia32: 'i386-linux-glibc' };
  return names[process.arch] ?? `${process.arch.replace(/[^a-z0-9]/g, '')}-linux-glibc`;
}

export interface PreparedUploads {
  /** Directory holding every upload's files (`<name>_1.0.changes`, `<name>_1.0_src.opk`). */
  readonly uploads: string;
  /** The Builder-Command: a script that needs nothing from its environment. */
  readonly builder: string;
  readonly names: readonly string[];
  readonly expected: readonly ExpectedUpload[];
  /** This machine's architecture: the native queue serves it. */
  readonly architecture: string;
}

/** Writes `count` uploads, their prebuilt binaries and the builder under `work`. */
export async function prepareUploads(work: string, count: number): Promise<PreparedUploads> {
  const architecture = nativeArchitecture();
  const uploads = join(work, 'uploads');
  const store = join(work, 'store');
  await mkdir(uploads, { recursive: true });
  await mkdir(store, { recursive: true });
  const names: string[] = [];
  const expected: ExpectedUpload[] = [];
  for (let index = 0; index < count; index++) {
    const name = `pkg${String(index).padStart(5, '0')}`;
    names.push(name);
    await writeSource(join(work, 'src', name), name);
    await buildSourcePackage(join(work, 'src', name), { outputDirectory: uploads });
    const builds: ExpectedBuild[] = [
      { architecture, platform: 'all', packages: [name] },
      { architecture: 'all', platform: 'all', packages: [`${name}-doc`] },
    ];
    for (const build of builds) for (const pkg of build.packages) await writePrebuilt(work, store, name, pkg, build);
    expected.push({ source: name, version: CHAOS_VERSION, builds });
  }
  const builder = join(work, 'builder.sh');
  await writeFile(
    builder,
    [
      '#!/bin/sh',
      '# args: source-package arch plat output-dir; OPKFARM_PACKAGES names the packages wanted',
      'set -e',
      'echo "chaos builder: $OPKFARM_PACKAGES for $2/$3"',
      'sleep "0.$(( $$ % 3 ))"',
      'for pkg in $OPKFARM_PACKAGES; do',
      `  cp ${shellQuote(store)}"/\${pkg}_$2_$3.opk" "$4/.part-\${pkg}"`,
      `  mv "$4/.part-\${pkg}" "$4/\${pkg}_${CHAOS_VERSION}_$2_$3.opk"`,
      'done',
      '',
    ].join('\n'),
  );
  await chmod(builder, 0o755);
  return { uploads, builder, names, expected, architecture };
}

async function writePrebuilt(work: string, store: string, source: string, pkg: string, build: ExpectedBuild): Promise<void> {
  const data = join(work, 'data', pkg);
  await mkdir(join(data, 'usr', 'share', pkg), { recursive: true });
  await writeFile(join(data, 'usr', 'share', pkg, 'README'), `${pkg} for ${build.architecture}\n`);
  await writeOpk({
    destination: join(store, `${pkg}_${build.architecture}_${build.platform}.opk`),
    control: new Stanza([
      ['Package', pkg],
      ['Source', source],
      ['Version', CHAOS_VERSION],
      ['Architecture', build.architecture],
      ['Platform', build.platform],
      ['Maintainer', 'Chaos <chaos@example.org>'],
      ['Section', 'misc'],
      ['Description', 'chaos run package'],
    ]),
    dataDirectory: data,
    sourceDateEpoch: 0,
  });
}

/** An SPF 2.0 source directory with an `any` and an `all` binary package. */
async function writeSource(directory: string, name: string): Promise<void> {
  await mkdir(join(directory, `${name}.pkg`), { recursive: true });
  await mkdir(join(directory, `${name}-doc.pkg`), { recursive: true });
  await writeFile(join(directory, 'format'), '2.0\n');
  await writeFile(join(directory, 'control'), 'Maintainer: Chaos <chaos@example.org>\nSection: misc\n');
  await writeFile(
    join(directory, 'changelog'),
    `${name} (${CHAOS_VERSION}) trunk; urgency=low\n\n  * Chaos.\n\n -- Chaos Uploader <uploader@example.org>  Sat, 21 Nov 2026 12:00:00 +0000\n`,
  );
  await writeFile(join(directory, 'build'), '#!/usr/bin/make -f\nbuild:\ninstall:\n');
  await chmod(join(directory, 'build'), 0o755);
  await writeFile(join(directory, `${name}.pkg`, 'control'), 'Architecture: any\nPlatform: all\nSection: misc\nDescription: chaos package\n');
  await writeFile(join(directory, `${name}-doc.pkg`, 'control'), 'Architecture: all\nPlatform: all\nSection: misc\nDescription: chaos docs\n');
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The text of the opkfarm.conf of a chaos farm: queue native (this machine) and indep (all), the chaos builder, unconfined. */
export function chaosConfig(prepared: Pick<PreparedUploads, 'builder' | 'architecture'>): string {
  return [
    'Farm: chaos',
    'Distributions: trunk',
    'Mail-From: opkfarm chaos <opkfarm@localhost>',
    'Builder: command',
    `Builder-Command: ${prepared.builder}`,
    'Builder-Sandbox: none',
    'Build-Timeout: 60',
    'Rescan-Seconds: 1',
    '',
    'Queue: native',
    `Architectures: ${prepared.architecture}`,
    '',
    'Queue: indep',
    'Architectures: all',
    '',
  ].join('\n');
}

/** The build queues of chaosConfig. */
export const CHAOS_QUEUES = ['native', 'indep'] as const;
