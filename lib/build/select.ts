/**
 * Which builds a build queue owes an upload: for each architecture the queue
 * serves and each platform it builds, the binary packages whose Architecture
 * and Platform fields cover that pair. A pair with no package is no build.
 */
import { architectureListMatches, platformsToBuild } from '../formats/architecture.js';
import type { BinaryPackageSpec } from '../source/spf.js';

export interface PlannedBuild {
  readonly architecture: string;
  readonly platform: string;
  /** Binary package names to produce, sorted. */
  readonly packages: readonly string[];
}

/** The builds of one upload on a queue serving `architectures` and building `platforms` (besides `all`). */
export function planBuilds(
  packages: readonly BinaryPackageSpec[],
  architectures: readonly string[],
  platforms: readonly string[],
): PlannedBuild[] {
  const builds: PlannedBuild[] = [];
  for (const architecture of [...architectures].sort()) {
    const forArchitecture = packages.filter((binary) => architectureListMatches(binary.architectures, architecture));
    const byPlatform = new Map<string, string[]>();
    for (const binary of forArchitecture) {
      for (const platform of platformsToBuild(binary.platforms, platforms)) {
        byPlatform.set(platform, [...(byPlatform.get(platform) ?? []), binary.name]);
      }
    }
    for (const [platform, names] of [...byPlatform].sort(([a], [b]) => a.localeCompare(b))) {
      builds.push({ architecture, platform, packages: names.sort() });
    }
  }
  return builds;
}
