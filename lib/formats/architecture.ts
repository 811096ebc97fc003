/**
 * Architectures and platforms (FORMATS.md), and which build queues an upload
 * is routed to (PIPELINE.md step 1).
 *
 * An architecture is `<cpu>-<kernel>-<libc>` (a "real" one, e.g.
 * `amd64-linux-glibc`), or one of three special values: `all` (architecture
 * independent), `any` (every real architecture) and `src` (source packages,
 * archive only). A wildcard has `any` for one or two components and covers the
 * real architectures whose other components are equal; `any-any-any` is
 * accepted as a spelling of `any`.
 *
 * A package's `Architecture` (or an upload's) is a pattern; what a build host,
 * build queue or feed serves is concrete: `all`, `src` or a real architecture.
 * Platforms follow the same shape: a package's `Platform` is `all`
 * (platform independent, built once per architecture), `any` or a list of
 * platform names; a build is done for the concrete platform `all` or for one
 * real platform name.
 */

/** The special architecture and platform values. */
export const ALL = 'all';
export const ANY = 'any';
export const SRC = 'src';

const COMPONENT = /^[a-z0-9]+$/;
const PLATFORM_NAME = /^[a-z0-9][a-z0-9.+-]*$/;

/** Why an architecture name is not valid, or undefined when it is (special value, real name or wildcard). */
export function architectureProblem(name: string): string | undefined {
  if (name === '') return 'architecture is empty';
  if (name === ALL || name === ANY || name === SRC) return undefined;
  const components = name.split('-');
  if (components.length !== 3) {
    return `architecture ${JSON.stringify(name)} must be all, any, src or <cpu>-<kernel>-<libc>`;
  }
  for (const component of components) {
    if (component === '') return `architecture ${JSON.stringify(name)} has an empty component`;
    if (!COMPONENT.test(component)) {
      return `architecture ${JSON.stringify(name)} has a bad component ${JSON.stringify(component)} (each must match [a-z0-9]+)`;
    }
  }
  return undefined;
}

/** True for a valid `<cpu>-<kernel>-<libc>` name with no `any` component. */
export function isRealArchitecture(name: string): boolean {
  const components = splitArchitecture(name);
  return components !== undefined && !components.includes(ANY);
}

/** True for a valid three-component name with one, two or three `any` components. */
export function isWildcard(name: string): boolean {
  const components = splitArchitecture(name);
  return components !== undefined && components.includes(ANY);
}

/** True for what a build host, build queue or feed can serve: `all`, `src` or a real architecture. */
export function isConcreteArchitecture(name: string): boolean {
  return name === ALL || name === SRC || isRealArchitecture(name);
}

/**
 * Whether an `Architecture` value (`all`, `any`, `src`, a real name or a
 * wildcard) covers a concrete architecture (`all`, `src` or a real name).
 * `any` covers every real architecture but neither `all` nor `src`, which are
 * not architectures a binary is built for. Invalid names match nothing.
 */
export function architectureMatches(pattern: string, architecture: string): boolean {
  if (pattern === ALL || pattern === SRC) return architecture === pattern;
  const concrete = splitArchitecture(architecture);
  if (concrete === undefined || concrete.includes(ANY)) return false;
  if (pattern === ANY) return true;
  const wanted = splitArchitecture(pattern);
  if (wanted === undefined) return false;
  return wanted.every((component, index) => component === ANY || component === concrete[index]);
}

/** Whether any element of an `Architecture` list covers the concrete architecture. */
export function architectureListMatches(patterns: readonly string[], architecture: string): boolean {
  return patterns.some((pattern) => architectureMatches(pattern, architecture));
}

/** Why a platform name (`all`, `any` or a name such as `dev`) is not valid, or undefined when it is. */
export function platformProblem(name: string): string | undefined {
  if (name === '') return 'platform is empty';
  if (!PLATFORM_NAME.test(name)) {
    return `platform ${JSON.stringify(name)} must match [a-z0-9][a-z0-9.+-]*`;
  }
  return undefined;
}

/**
 * Whether a package's `Platform` list covers the concrete platform a build is
 * done for. `all` covers only the platform-independent build `all`; `any`
 * covers every platform name but not `all`; a name covers itself.
 */
export function platformMatches(packagePlatforms: readonly string[], hostPlatform: string): boolean {
  if (platformProblem(hostPlatform) !== undefined || hostPlatform === ANY) return false;
  return packagePlatforms.some(
    (platform) => platform === hostPlatform || (platform === ANY && hostPlatform !== ALL),
  );
}

/**
 * The concrete platforms a host serving `hostPlatforms` (platform names) builds
 * a package for: `all` when the package is platform independent, whatever the
 * host serves, so that it is built once and not once per platform; plus each
 * served platform the package's list covers. Sorted, without duplicates.
 */
export function platformsToBuild(packagePlatforms: readonly string[], hostPlatforms: readonly string[]): string[] {
  const builds = new Set<string>();
  for (const platform of [ALL, ...hostPlatforms]) {
    if (platformMatches(packagePlatforms, platform)) builds.add(platform);
  }
  return [...builds].sort();
}

/** Where an upload goes: the build queues to link it into, and the architectures no queue serves. */
export interface Route {
  /** Build queue names, sorted, each once. */
  readonly queues: string[];
  /** Upload architectures that no queue serves, sorted, each once; callers warn or reject. */
  readonly unserved: string[];
}

/**
 * Routes an upload by its `Architecture` list (PIPELINE.md step 1). `served`
 * maps each concrete architecture a build queue serves to that queue's name;
 * several architectures may share one queue, which is still listed once.
 * `all` goes to the queue serving `all`, `any` to every queue serving a real
 * architecture, a real name or wildcard to the queues serving what it covers.
 * `src` needs no build: it goes only to a queue that serves `src` explicitly
 * and is never reported unserved. Throws a RangeError when `served` names
 * something that is not concrete, since routing would silently skip it.
 */
export function routeUpload(
  architectures: readonly string[],
  served: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): Route {
  const entries = servedEntries(served);
  for (const [architecture, queue] of entries) {
    if (!isConcreteArchitecture(architecture)) {
      throw new RangeError(
        `build queue ${JSON.stringify(queue)} serves ${JSON.stringify(architecture)}, which is not all, src or a real architecture`,
      );
    }
  }
  const queues = new Set<string>();
  const unserved = new Set<string>();
  for (const pattern of architectures) {
    let matched = false;
    for (const [architecture, queue] of entries) {
      if (architectureMatches(pattern, architecture)) {
        queues.add(queue);
        matched = true;
      }
    }
    if (!matched && pattern !== SRC) unserved.add(pattern);
  }
  return { queues: [...queues].sort(), unserved: [...unserved].sort() };
}

function servedEntries(
  served: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): Array<[string, string]> {
  if (isMap(served)) return [...served.entries()];
  return Object.entries(served);
}

// ReadonlyMap is an interface, so `instanceof Map` alone does not narrow the union.
function isMap(value: object): value is ReadonlyMap<string, string> {
  return value instanceof Map;
}

/** The three components of a valid non-special architecture name, or undefined. */
function splitArchitecture(name: string): string[] | undefined {
  if (name === ALL || name === ANY || name === SRC) return undefined;
  if (architectureProblem(name) !== undefined) return undefined;
  return name.split('-');
}
